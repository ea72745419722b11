#include "integration/harness.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

extern char** environ;

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

int decodeStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// Waits for `pid` up to timeoutMs; its decoded status, or nullopt.
std::optional<int> waitPid(pid_t pid, int timeoutMs) {
  const int64_t deadline = nowMs() + timeoutMs;
  for (;;) {
    int status = 0;
    pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) return decodeStatus(status);
    if (done < 0) return -1;
    if (nowMs() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(5ms);
  }
}

// Spawns argv with stdout and stderr sent to the given files (appending), stdin from /dev/null.
pid_t spawn(const std::vector<std::string>& argv, const std::string& outFile,
            const std::string& errFile, const std::vector<std::string>& extraEnv) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, outFile.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                   0644);
  posix_spawn_file_actions_addopen(&actions, 2, errFile.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                   0644);
  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> envStrings;
  for (char** e = environ; *e != nullptr; ++e) envStrings.emplace_back(*e);
  for (const auto& extra : extraEnv) envStrings.push_back(extra);
  std::vector<char*> env;
  for (auto& e : envStrings) env.push_back(e.data());
  env.push_back(nullptr);
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), env.data());
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -1;
}

}  // namespace

std::string sluiceBinary() {
  const char* binary = std::getenv("SLUICE_BINARY");
  if (binary != nullptr && *binary != '\0') return binary;
#ifdef SLUICE_DEFAULT_BINARY
  return SLUICE_DEFAULT_BINARY;
#else
  return "sluice";
#endif
}

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern =
      std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/sluice-test-XXXXXX";
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  if (::mkdtemp(buffer.data()) != nullptr) path_ = buffer.data();
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!path_.empty()) std::filesystem::remove_all(path_, ec);
}

std::string configYaml(const ServeSpec& spec, const std::string& dataDir) {
  std::string yaml;
  yaml += "server:\n  listen: 127.0.0.1:0\n  threads: " + std::to_string(spec.threads) + "\n";
  yaml += spec.extraServerYaml;
  yaml += "storage:\n  path: " + dataDir + "\n  retention: 7d\n  min_free_space: " +
          spec.minFreeSpace + "\n";
  yaml += "logging:\n  level: " + spec.logLevel + "\n  format: text\n";
  yaml += "sources:\n";
  for (const auto& source : spec.sources) {
    yaml += "  - name: " + source.name + "\n    write_key: " + source.writeKey + "\n";
  }
  yaml += spec.extraYaml;
  return yaml;
}

CommandResult runProgram(const std::vector<std::string>& argv, int timeoutMs,
                         const std::vector<std::string>& extraEnv) {
  CommandResult result;
  TempDir scratch;
  const std::string outFile = scratch.path() + "/out";
  const std::string errFile = scratch.path() + "/err";
  pid_t pid = spawn(argv, outFile, errFile, extraEnv);
  if (pid < 0) return result;
  auto status = waitPid(pid, timeoutMs);
  if (!status) {
    ::kill(pid, SIGKILL);
    waitPid(pid, 5000);
  } else {
    result.exitCode = *status;
  }
  result.out = readFile(outFile);
  result.err = readFile(errFile);
  return result;
}

CommandResult runSluice(const std::vector<std::string>& args, int timeoutMs,
                        const std::vector<std::string>& extraEnv) {
  std::vector<std::string> argv = {sluiceBinary()};
  argv.insert(argv.end(), args.begin(), args.end());
  return runProgram(argv, timeoutMs, extraEnv);
}

SluiceServer::SluiceServer(std::string dir, ServeSpec spec)
    : dir_(std::move(dir)),
      configPath_(dir_ + "/sluice.yaml"),
      dataDir_(dir_ + "/data"),
      portFile_(dir_ + "/port"),
      stderrFile_(dir_ + "/stderr.log") {
  std::ofstream(configPath_) << configYaml(spec, dataDir_);
}

SluiceServer::~SluiceServer() {
  if (pid_ > 0) kill9();
}

bool SluiceServer::start(int timeoutMs, bool untilReady) {
  if (pid_ > 0) return false;
  const int outcome = startOn(port_, timeoutMs, untilReady);
  // The port of the last run was taken (by another test's server or client) while it was down.
  if (outcome < 0 && port_ != 0) return startOn(0, timeoutMs, untilReady) > 0;
  return outcome > 0;
}

int SluiceServer::startOn(uint16_t listenPort, int timeoutMs, bool untilReady) {
  std::filesystem::remove(portFile_);
  const std::string listen = "127.0.0.1:" + std::to_string(listenPort);
  const size_t stderrBefore = stderrText().size();
  pid_ = spawn({sluiceBinary(), "serve", "--config", configPath_, "--listen", listen, "--port-file",
                portFile_},
               dir_ + "/stdout.log", stderrFile_, {});
  if (pid_ < 0) return 0;
  const int64_t deadline = nowMs() + timeoutMs;
  uint16_t port = 0;
  while (nowMs() < deadline) {
    if (auto status = waitPid(pid_, 0)) {  // exited early
      pid_ = -1;
      const std::string said = stderrText().substr(stderrBefore);
      return said.find("in use") != std::string::npos ? -1 : 0;  // bind or listen
    }
    std::string text = readFile(portFile_);
    if (!text.empty() && text.back() == '\n') {
      port = static_cast<uint16_t>(std::atoi(text.c_str()));
      break;
    }
    std::this_thread::sleep_for(10ms);
  }
  if (port == 0) {
    kill9();
    return 0;
  }
  port_ = port;
  while (nowMs() < deadline) {
    auto ready = request("GET", untilReady ? "/readyz" : "/healthz", {}, {}, 2000);
    if (ready && ready->status == 200) return 1;
    std::this_thread::sleep_for(10ms);
  }
  kill9();
  return 0;
}

int SluiceServer::stop(int timeoutMs) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  auto status = waitPid(pid_, timeoutMs);
  if (!status) {
    kill9();
    return -1;
  }
  pid_ = -1;
  return *status;
}

void SluiceServer::kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  waitPid(pid_, 10'000);
  pid_ = -1;
}

void SluiceServer::signal(int signo) {
  if (pid_ > 0) ::kill(pid_, signo);
}

std::optional<int> SluiceServer::waitExit(int timeoutMs) {
  if (pid_ <= 0) return std::nullopt;
  auto status = waitPid(pid_, timeoutMs);
  if (status) pid_ = -1;
  return status;
}

std::string SluiceServer::stderrText() const { return readFile(stderrFile_); }

std::optional<RawResponse> SluiceServer::request(
    std::string_view method, std::string_view path,
    const std::vector<std::pair<std::string, std::string>>& headers, std::string_view body,
    int timeoutMs) const {
  return roundTrip(port_, buildRequest(method, path, headers, body), timeoutMs);
}

std::optional<RawResponse> SluiceServer::post(std::string_view path, std::string_view body,
                                              std::string_view writeKey) const {
  return request("POST", path,
                 {{"Content-Type", "application/json"}, {"Authorization", basicAuth(writeKey)}},
                 body);
}

std::vector<std::string> SluiceServer::exportLog(const std::vector<std::string>& args) const {
  std::vector<std::string> all = {"log", "export", "--config", configPath_};
  all.insert(all.end(), args.begin(), args.end());
  CommandResult result = runSluice(all, 60'000);
  std::vector<std::string> lines;
  if (result.exitCode != 0) {
    // An export that failed is never taken for an empty log.
    ADD_FAILURE() << "sluice log export exited with " << result.exitCode << ": " << result.err;
    return lines;
  }
  std::istringstream in(result.out);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

std::string basicAuth(std::string_view writeKey) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string input = std::string(writeKey) + ":";
  std::string out;
  size_t i = 0;
  for (; i + 2 < input.size(); i += 3) {
    uint32_t n = (static_cast<uint8_t>(input[i]) << 16) |
                 (static_cast<uint8_t>(input[i + 1]) << 8) | static_cast<uint8_t>(input[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (i + 1 == input.size()) {
    uint32_t n = static_cast<uint8_t>(input[i]) << 16;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == input.size()) {
    uint32_t n = (static_cast<uint8_t>(input[i]) << 16) | (static_cast<uint8_t>(input[i + 1]) << 8);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += '=';
  }
  return "Basic " + out;
}

std::string jsonField(std::string_view json, std::string_view name) {
  std::string key = "\"" + std::string(name) + "\":";
  size_t at = json.find(key);
  if (at == std::string_view::npos) return {};
  at += key.size();
  while (at < json.size() && json[at] == ' ') ++at;
  if (at >= json.size() || json[at] != '"') return {};
  size_t end = at + 1;
  while (end < json.size() && json[end] != '"') end += json[end] == '\\' ? 2 : 1;
  return std::string(json.substr(at + 1, end - at - 1));
}

bool waitFor(const std::function<bool()>& done, int timeoutMs, int pollMs) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
  while (std::chrono::steady_clock::now() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(pollMs));
  }
  return done();
}

}  // namespace sluice::testing
