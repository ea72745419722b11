// Runs the real `sluice` binary for integration tests: a temporary directory with a configuration,
// `sluice serve` on a free loopback port (read from --port-file), readiness through /readyz, raw
// HTTP through http/raw_client.h, graceful (SIGTERM) or brutal (SIGKILL) stops, and one-shot
// subcommands such as `sluice log export`. Every wait is bounded.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "http/raw_client.h"

namespace sluice::testing {

// The binary under test: $SLUICE_BINARY, else the build tree's `sluice` (compiled in), else PATH.
std::string sluiceBinary();

// A fresh directory under $TMPDIR (or /tmp), removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct SourceSpec {
  std::string name;
  std::string writeKey;
};

struct ServeSpec {
  std::vector<SourceSpec> sources = {{"web", "test-write-key"}};
  int threads = 2;
  std::string logLevel = "info";
  std::string minFreeSpace = "1MiB";  // storage.min_free_space
  std::string extraServerYaml;        // more lines under `server:`, each indented by two spaces
  std::string extraYaml;              // more top-level YAML (e.g. destinations:)
};

// The YAML text of a configuration with its storage under `dataDir`.
std::string configYaml(const ServeSpec& spec, const std::string& dataDir);

// Polls `done` every `pollMs` until it holds or `timeoutMs` has passed; returns its last answer.
bool waitFor(const std::function<bool()>& done, int timeoutMs, int pollMs = 50);

struct CommandResult {
  int exitCode = -1;  // -1 when it did not finish in time (it was killed) or could not start
  std::string out;
  std::string err;
};

// Runs `sluice args...` to completion (killed after timeoutMs), capturing stdout and stderr.
CommandResult runSluice(const std::vector<std::string>& args, int timeoutMs = 30'000,
                        const std::vector<std::string>& extraEnv = {});

// Runs any program likewise (argv[0] is looked up on PATH).
CommandResult runProgram(const std::vector<std::string>& argv, int timeoutMs,
                         const std::vector<std::string>& extraEnv = {});

// One `sluice serve` process over a directory that survives restarts of the process.
class SluiceServer {
 public:
  // Writes `<dir>/sluice.yaml` from `spec` with the store in `<dir>/data`.
  SluiceServer(std::string dir, ServeSpec spec = {});
  ~SluiceServer();  // kills the process if still running
  SluiceServer(const SluiceServer&) = delete;
  SluiceServer& operator=(const SluiceServer&) = delete;

  // Starts `sluice serve --listen 127.0.0.1:PORT` (PORT 0 the first time, then the same port
  // again so that clients can reconnect; if another process took that port meanwhile, a new one,
  // which port() then gives) and waits until /readyz answers 200 (with `untilReady` false, until
  // /healthz does: for a server that is not meant to be ready). False (with the process stopped)
  // on failure or timeout; stderrText() says why.
  bool start(int timeoutMs = 15'000, bool untilReady = true);

  // SIGTERM, then waits for the exit. Returns the exit status (128+signal when killed by one), or
  // -1 after timeoutMs (the process is then SIGKILLed).
  int stop(int timeoutMs = 15'000);
  // SIGKILL and reap.
  void kill9();
  // Sends a signal without waiting.
  void signal(int signo);
  // Waits for the process to exit by itself; its status, or nullopt after timeoutMs.
  std::optional<int> waitExit(int timeoutMs);
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  uint16_t port() const { return port_.load(); }  // may be read by other threads
  const std::string& dir() const { return dir_; }
  const std::string& configPath() const { return configPath_; }
  const std::string& dataDir() const { return dataDir_; }
  // Everything the process (all starts so far) wrote on stderr.
  std::string stderrText() const;

  // One request on a new connection.
  std::optional<RawResponse> request(
      std::string_view method, std::string_view path,
      const std::vector<std::pair<std::string, std::string>>& headers = {},
      std::string_view body = {}, int timeoutMs = 10'000) const;
  // POST with Basic auth for `writeKey` and a JSON content type.
  std::optional<RawResponse> post(std::string_view path, std::string_view body,
                                  std::string_view writeKey = "test-write-key") const;

  // `sluice log export --config <this config> [args...]`: the JSON lines it printed (none, with
  // a test failure, when the export fails).
  std::vector<std::string> exportLog(const std::vector<std::string>& args = {}) const;

 private:
  std::string dir_;
  std::string configPath_;
  std::string dataDir_;
  std::string portFile_;
  std::string stderrFile_;
  pid_t pid_ = -1;
  std::atomic<uint16_t> port_{0};

  // One attempt of start() on `port`: 1 started, 0 failed, -1 the port was taken.
  int startOn(uint16_t port, int timeoutMs, bool untilReady);
};

// "Basic base64(user:)" as Segment's libraries send the write key.
std::string basicAuth(std::string_view writeKey);

// The value of a top-level string field `"name":"..."` in a JSON text (no unescaping), or empty.
std::string jsonField(std::string_view json, std::string_view name);

}  // namespace sluice::testing
