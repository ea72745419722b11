// Loading and validation of the configuration file: yaml-cpp builds a node tree (with positions),
// then every section is read into the structs of config.h by strict readers that report unknown
// keys, wrong types and out-of-range values with the file, line and column of the value.
#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include "config/config.h"
#include "config/json_text.h"
#include "config/substitute.h"
#include "core/time.h"

namespace sluice::config {
namespace {

constexpr size_t kMaxReportedErrors = 50;
constexpr size_t kMaxRulesPerDestination = 50;
constexpr const char* kDestinationType = "tiktok-conversions";
constexpr const char* kAction = "reportWebEvent";

// One problem found in the file.
struct Problem {
  int line = 0;
  int column = 0;
  std::string text;  // "key.path: problem"
};

// One `key: value` of a map, with the path used in messages (`sources[1].write_key`).
struct Entry {
  std::string key;
  YAML::Node keyNode;
  YAML::Node value;
  std::string path;
  bool isNull() const { return !value.IsDefined() || value.IsNull(); }
};

// `s` with control characters escaped (`\n`, `\x01`), so that a message stays on one line.
std::string printable(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += ch;
    }
  }
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      const bool same = std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                        std::tolower(static_cast<unsigned char>(b[j - 1]));
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (same ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// ` (did you mean 'x'?)` for the closest candidate within a small edit distance, else "".
std::string suggestion(std::string_view word, const std::vector<std::string>& candidates) {
  const std::string* best = nullptr;
  size_t bestDistance = 0;
  for (const auto& candidate : candidates) {
    const size_t d = editDistance(word, candidate);
    if (best == nullptr || d < bestDistance) best = &candidate, bestDistance = d;
  }
  const size_t limit = std::max<size_t>(1, std::min<size_t>(3, word.size() / 3));
  if (best == nullptr || bestDistance > limit) return "";
  return " (did you mean '" + *best + "'?)";
}

std::string quoteList(const std::vector<std::string>& items) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += i + 1 == items.size() ? " or " : ", ";
    out += "'" + items[i] + "'";
  }
  return out;
}

bool isValidName(std::string_view name) {
  if (name.empty() || name.size() > 64 || !std::isalnum(static_cast<unsigned char>(name[0]))) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
}

bool hasSpaceOrControl(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7f;
  });
}

bool isIpv4(const std::string& s) {
  in_addr a;
  return inet_pton(AF_INET, s.c_str(), &a) == 1;
}
bool isIpv6(const std::string& s) {
  in6_addr a;
  return inet_pton(AF_INET6, s.c_str(), &a) == 1;
}

bool isHostName(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.';
  });
}

// Parses `host:port`, `[v6]:port` or `:port` (all IPv4 interfaces). Returns a problem or "".
std::string parseListen(const std::string& text, std::string& host, uint16_t& port) {
  const std::string kExpected = "expected host:port such as 127.0.0.1:8080, [::1]:8080 or :8080";
  std::string portText;
  if (!text.empty() && text[0] == '[') {
    const size_t close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return kExpected;
    }
    host = text.substr(1, close - 1);
    portText = text.substr(close + 2);
    if (!isIpv6(host)) return "not an IPv6 address in the brackets";
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string::npos) return kExpected;
    host = text.substr(0, colon);
    portText = text.substr(colon + 1);
    if (host.find(':') != std::string::npos) {
      return "write an IPv6 address in brackets, such as [::1]:8080";
    }
    if (host.empty()) host = "0.0.0.0";
    if (!isIpv4(host) && !isHostName(host)) return "the host is not a host name or address";
  }
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(portText.data(), portText.data() + portText.size(), value);
  if (portText.empty() || ec != std::errc() || end != portText.data() + portText.size() ||
      value > 65535) {
    return "the port must be a number from 0 to 65535";
  }
  port = static_cast<uint16_t>(value);
  return "";
}

bool isLoopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

// Whether `text` is an address or a CIDR block (`10.0.0.0/8`, `fd00::/8`).
bool isAddressOrCidr(const std::string& text) {
  const size_t slash = text.find('/');
  const std::string address = text.substr(0, slash);
  const bool v4 = isIpv4(address);
  if (!v4 && !isIpv6(address)) return false;
  if (slash == std::string::npos) return true;
  const std::string bits = text.substr(slash + 1);
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), value);
  return !bits.empty() && ec == std::errc() && end == bits.data() + bits.size() &&
         value <= (v4 ? 32u : 128u);
}

bool isHttpToken(std::string_view s) {
  constexpr std::string_view kSpecial = "!#$%&'*+-.^_`|~";
  return !s.empty() && std::all_of(s.begin(), s.end(), [&](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || kSpecial.find(c) != std::string_view::npos;
  });
}

// Whether `url` is an absolute http or https URL with a host.
bool isHttpUrl(std::string_view url) {
  const std::string l = lower(url.substr(0, 8));
  size_t rest;
  if (l.rfind("https://", 0) == 0) {
    rest = 8;
  } else if (l.rfind("http://", 0) == 0) {
    rest = 7;
  } else {
    return false;
  }
  const std::string_view authority = url.substr(rest, url.find_first_of("/?#", rest) - rest);
  return !authority.empty() && authority[0] != ':' && !hasSpaceOrControl(url);
}

// Byte sizes: `1234`, `512MB` (10^6), `1GiB` (2^30), `1.5GiB`; units case-insensitive.
std::optional<uint64_t> parseBytes(std::string_view text) {
  size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) {
    ++i;
  }
  if (i == 0) return std::nullopt;
  double number = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + i, number);
  if (ec != std::errc() || end != text.data() + i) return std::nullopt;
  std::string_view unit = text.substr(i);
  while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  const std::string u = lower(unit);
  double scale;
  if (u.empty() || u == "b") scale = 1;
  else if (u == "kb" || u == "k") scale = 1e3;
  else if (u == "mb" || u == "m") scale = 1e6;
  else if (u == "gb" || u == "g") scale = 1e9;
  else if (u == "tb" || u == "t") scale = 1e12;
  else if (u == "kib") scale = 1024.0;
  else if (u == "mib") scale = 1024.0 * 1024;
  else if (u == "gib") scale = 1024.0 * 1024 * 1024;
  else if (u == "tib") scale = 1024.0 * 1024 * 1024 * 1024;
  else return std::nullopt;
  const double bytes = number * scale;
  if (!std::isfinite(bytes) || bytes > 1.8e19) return std::nullopt;
  return static_cast<uint64_t>(std::llround(bytes));
}

// YAML 1.2 core schema resolution of plain scalars, for re-serialising mappings as JSON.
bool isYamlNull(std::string_view s) {
  return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL";
}

bool isJsonNumber(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && s[i] == '-') ++i;
  if (i >= s.size()) return false;
  if (s[i] == '0') {
    ++i;
  } else if (s[i] >= '1' && s[i] <= '9') {
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
  } else {
    return false;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    const size_t start = i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    if (i == start) return false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    const size_t start = i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    if (i == start) return false;
  }
  return i == s.size();
}

// Converts a YAML number other than JSON's own spelling (`+1`, `0x1F`, `0o17`, `.5`, `1.`).
// Returns the JSON text, "" when `s` is not a YAML number, or "!" when it is not representable.
std::string yamlNumberAsJson(std::string_view s) {
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o')) {
    uint64_t value = 0;
    const int base = s[1] == 'x' ? 16 : 8;
    const auto [end, ec] = std::from_chars(s.data() + 2, s.data() + s.size(), value, base);
    if (ec == std::errc() && end == s.data() + s.size()) return std::to_string(value);
    return "";
  }
  std::string_view body = s;
  if (!body.empty() && (body[0] == '+' || body[0] == '-')) body.remove_prefix(1);
  const std::string lowered = lower(body);
  if (lowered == ".inf" || lowered == ".nan") return "!";
  // [0-9]* (. [0-9]*)? ([eE][-+]?[0-9]+)? with at least one digit before the exponent.
  size_t i = 0, digits = 0;
  while (i < body.size() && std::isdigit(static_cast<unsigned char>(body[i]))) ++i, ++digits;
  if (i < body.size() && body[i] == '.') {
    ++i;
    while (i < body.size() && std::isdigit(static_cast<unsigned char>(body[i]))) ++i, ++digits;
  }
  if (digits == 0) return "";
  if (i < body.size() && (body[i] == 'e' || body[i] == 'E')) {
    ++i;
    if (i < body.size() && (body[i] == '+' || body[i] == '-')) ++i;
    const size_t start = i;
    while (i < body.size() && std::isdigit(static_cast<unsigned char>(body[i]))) ++i;
    if (i == start) return "";
  }
  if (i != body.size()) return "";
  const std::string text(s[0] == '+' ? s.substr(1) : s);
  const double value = std::strtod(text.c_str(), nullptr);
  if (!std::isfinite(value)) return "!";
  JsonWriter w(false);
  w.value(value);
  return w.text();
}

// Finds a second YAML document with content, returning where it starts. Reads at most three
// documents with the event parser: yaml-cpp's LoadAll() can loop forever on some malformed input
// (a file starting with ','), so it is not used. Throws YAML::Exception on a syntax error.
class DocumentCounter final : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark& mark) override {
    ++documents_;
    start_ = mark;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { content(mark); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                const std::string&) override {
    content(mark);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    content(mark);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    content(mark);
  }
  void OnMapEnd() override {}

  std::optional<YAML::Mark> second() const { return second_; }

 private:
  void content(const YAML::Mark& mark) {
    if (documents_ >= 2 && !second_) second_ = start_.line >= 0 ? start_ : mark;
  }
  int documents_ = 0;
  YAML::Mark start_;
  std::optional<YAML::Mark> second_;
};

std::optional<YAML::Mark> secondDocument(std::string_view text) {
  std::istringstream in{std::string(text)};
  YAML::Parser parser(in);
  DocumentCounter counter;
  for (int i = 0; i < 3 && !counter.second() && parser.HandleNextDocument(counter); ++i) {
  }
  return counter.second();
}

// The 1-based number of the first line that is neither blank, a comment, nor a document marker;
// 0 when there is none.
int firstContentLine(std::string_view text) {
  int number = 0;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    ++number;
    std::string_view line = text.substr(start, end - start);
    if (number == 1 && line.substr(0, 3) == "\xEF\xBB\xBF") line.remove_prefix(3);
    const size_t first = line.find_first_not_of(" \t\r");
    if (first != std::string_view::npos) {
      const std::string_view rest = line.substr(first);
      const bool marker = rest.substr(0, 3) == "---" || rest.substr(0, 3) == "...";
      if (rest[0] != '#' && !marker && rest.substr(0, 1) != "%") return number;
      if (marker && rest.size() > 3 && rest.find_first_not_of(" \t\r", 3) != std::string_view::npos &&
          rest[rest.find_first_not_of(" \t\r", 3)] != '#') {
        return number;
      }
    }
    start = end + 1;
  }
  return 0;
}

class Parser {
 public:
  Parser(std::string_view text, const std::string& file, const ParseOptions& options)
      : text_(text), file_(file), env_(options.env ? options.env : processEnv()) {}

  Result<Config> run();

 private:
  // ---- positions and problems
  Position positionOf(const YAML::Mark& mark) const {
    if (mark.line < 0) return Position{file_, 0, 0};
    return Position{file_, mark.line + 1, mark.column + 1};
  }
  static YAML::Mark markOf(const Entry& e) {
    return e.isNull() ? e.keyNode.Mark() : e.value.Mark();
  }
  void error(const YAML::Mark& mark, const std::string& path, const std::string& problem) {
    const Position p = positionOf(mark);
    problems_.push_back(Problem{p.line, p.column, (path.empty() ? "top level" : path) + ": " + problem});
  }
  void error(const Entry& e, const std::string& problem) { error(markOf(e), e.path, problem); }
  // Reports `key` of the map `entries` (at `mark`, `path`) as missing: at the key when it is
  // written with no value, else at the map.
  void missing(const std::vector<Entry>& entries, std::string_view key, const YAML::Mark& mark,
               const std::string& path, const std::string& problem = "required") {
    for (const auto& e : entries) {
      if (e.key == key) return error(e.keyNode.Mark(), e.path, problem);
    }
    error(mark, path + "." + std::string(key), problem);
  }

  // ---- structure
  // The entries of the map `node` at `path`, reporting non-scalar and duplicate keys and keys not
  // in `known`. Returns false (and reports) when `node` is not a map.
  bool readMap(const YAML::Node& node, const YAML::Mark& mark, const std::string& path,
               const std::vector<std::string>& known, std::vector<Entry>& entries);
  static const Entry* find(const std::vector<Entry>& entries, std::string_view key) {
    for (const auto& e : entries) {
      if (e.key == key && !e.isNull()) return &e;
    }
    return nullptr;
  }
  // The entries of `key` inside `parent` (a map value), or false when absent, null or invalid.
  bool readSubMap(const std::vector<Entry>& parent, std::string_view key,
                  const std::vector<std::string>& known, std::vector<Entry>& entries) {
    const Entry* e = find(parent, key);
    return e != nullptr && readMap(e->value, e->value.Mark(), e->path, known, entries);
  }

  // ---- scalar readers: each reports its own problem and returns nullopt on failure.
  // The text of a scalar after `${...}` substitution; `secret` values are never echoed.
  std::optional<std::string> text(const Entry& e, bool substitute = true);
  std::optional<std::string> text(const YAML::Node& node, const YAML::Mark& mark,
                                  const std::string& path, bool substitute, bool* substituted);
  // " (got 'x')" for a non-secret value that was not substituted.
  std::string got(const Entry& e, const std::string& value) const;
  std::optional<int64_t> integer(const Entry& e, int64_t min, int64_t max);
  std::optional<double> number(const Entry& e, double min, double max);
  std::optional<bool> boolean(const Entry& e);
  std::optional<int64_t> duration(const Entry& e, int64_t minMs, int64_t maxMs);
  // The items of a list of strings: value, position, and whether it was written literally.
  struct ListItem {
    std::string value;
    YAML::Mark mark;
    bool literal = true;
    // `'value'` when it may be shown in a message, else `a substituted value`.
    std::string quoted() const {
      return literal ? "'" + printable(value) + "'" : "a substituted value";
    }
  };
  std::optional<std::vector<ListItem>> stringList(const Entry& e);

  template <typename T, typename U>
  void set(T& field, const std::optional<U>& value) {
    if (value) field = static_cast<T>(*value);
  }
  bool isSecretKey(std::string_view key) const {
    return key == "write_key" || key == "access_token" || key == "admin_token";
  }

  // ---- sections
  void readServer(const std::vector<Entry>& root, ServerConfig& server);
  void readStorage(const std::vector<Entry>& root, StorageConfig& storage);
  void readLogging(const std::vector<Entry>& root, LoggingConfig& logging);
  void readIncidents(const std::vector<Entry>& root, IncidentsConfig& incidents);
  void readAlerts(const std::vector<Entry>& root, AlertsConfig& alerts);
  void readWebhook(const YAML::Node& node, const std::string& path, WebhookConfig& webhook);
  void readSources(const std::vector<Entry>& root, std::vector<SourceConfig>& sources);
  void readDestinations(const std::vector<Entry>& root, const Config& config,
                        std::vector<DestinationConfig>& destinations);
  void readDestination(const YAML::Node& node, const std::string& path, const Config& config,
                       DestinationConfig& d);
  void readSettings(const std::vector<Entry>& entries, const Entry& parent, TikTokSettings& s);
  void readPresets(const Entry& e, std::vector<std::string>& presets);
  void readSubscription(const YAML::Node& node, const std::string& path, SubscriptionConfig& s);
  void readFlow(const std::vector<Entry>& entries, const YAML::Mark& mark, const std::string& path,
                FlowConfig& f);

  // ---- mappings
  // The position of the first character of a scalar's text (past a quote or a block indicator).
  Position contentPosition(const YAML::Node& node) const;
  // Appends `node` as JSON to `w`; reports problems (duplicate keys, unsupported values).
  bool appendJson(const YAML::Node& node, const std::string& path, JsonWriter& w);

  std::string_view text_;
  std::string file_;
  EnvLookup env_;
  std::vector<Problem> problems_;
};

bool Parser::readMap(const YAML::Node& node, const YAML::Mark& mark, const std::string& path,
                     const std::vector<std::string>& known, std::vector<Entry>& entries) {
  if (!node.IsMap()) {
    error(mark, path, "expected an object (key: value pairs)");
    return false;
  }
  std::set<std::string> seen;
  for (auto it = node.begin(); it != node.end(); ++it) {
    const YAML::Node keyNode = it->first;  // a copy: `it->` yields a temporary
    if (!keyNode.IsScalar()) {
      error(keyNode.Mark(), path, "keys must be plain words");
      continue;
    }
    const std::string key = keyNode.Scalar();
    const std::string childPath = path.empty() ? key : path + "." + key;
    if (!seen.insert(key).second) {
      error(keyNode.Mark(), path.empty() ? "top level" : path,
            "duplicate key '" + printable(key) + "'");
      continue;
    }
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      error(keyNode.Mark(), path,
            "unknown key '" + printable(key) + "'" + suggestion(key, known));
      continue;
    }
    entries.push_back(Entry{key, keyNode, it->second, childPath});
  }
  return true;
}

std::optional<std::string> Parser::text(const YAML::Node& node, const YAML::Mark& mark,
                                        const std::string& path, bool substitute,
                                        bool* substituted) {
  if (!node.IsDefined() || node.IsNull()) return std::string();
  if (!node.IsScalar()) {
    error(mark, path, "expected a string, not " +
                          std::string(node.IsMap() ? "an object" : "a list"));
    return std::nullopt;
  }
  if (!substitute) return node.Scalar();
  auto value = substituteVariables(node.Scalar(), env_, substituted);
  if (!value) {
    error(mark, path, value.error().message);
    return std::nullopt;
  }
  return *value;
}

std::optional<std::string> Parser::text(const Entry& e, bool substitute) {
  return text(e.value, markOf(e), e.path, substitute, nullptr);
}

std::string Parser::got(const Entry& e, const std::string& value) const {
  if (isSecretKey(e.key) || !e.value.IsScalar()) return "";
  if (e.value.Scalar().find("${") != std::string::npos) return "";  // may hold a secret
  const std::string shown = printable(value.size() > 40 ? value.substr(0, 40) + "..." : value);
  return " (got '" + shown + "')";
}

std::optional<int64_t> Parser::integer(const Entry& e, int64_t min, int64_t max) {
  const auto t = text(e);
  if (!t) return std::nullopt;
  int64_t value = 0;
  const std::string_view s = !t->empty() && (*t)[0] == '+' ? std::string_view(*t).substr(1) : *t;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) {
    error(e, "expected a whole number" + got(e, *t));
    return std::nullopt;
  }
  if (value < min || value > max) {
    error(e, "must be from " + std::to_string(min) + " to " + std::to_string(max) + got(e, *t));
    return std::nullopt;
  }
  return value;
}

std::optional<double> Parser::number(const Entry& e, double min, double max) {
  const auto t = text(e);
  if (!t) return std::nullopt;
  double value = 0;
  const std::string_view s = !t->empty() && (*t)[0] == '+' ? std::string_view(*t).substr(1) : *t;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || !std::isfinite(value)) {
    error(e, "expected a number" + got(e, *t));
    return std::nullopt;
  }
  if (value < min || value > max) {
    JsonWriter lo(false), hi(false);
    lo.value(min), hi.value(max);
    error(e, "must be from " + lo.text() + " to " + hi.text() + got(e, *t));
    return std::nullopt;
  }
  return value;
}

std::optional<bool> Parser::boolean(const Entry& e) {
  const auto t = text(e);
  if (!t) return std::nullopt;
  const std::string l = lower(*t);
  if (l == "true") return true;
  if (l == "false") return false;
  error(e, "expected true or false" + got(e, *t));
  return std::nullopt;
}

std::optional<int64_t> Parser::duration(const Entry& e, int64_t minMs, int64_t maxMs) {
  const auto t = text(e);
  if (!t) return std::nullopt;
  const std::optional<int64_t> ms = *t == "0" ? std::optional<int64_t>(0) : parseDurationMs(*t);
  if (!ms) {
    error(e, "expected a duration such as 250ms, 30s, 5m, 1h or 7d" + got(e, *t));
    return std::nullopt;
  }
  if (*ms < minMs || *ms > maxMs) {
    error(e, "must be from " + formatDurationMs(minMs) + " to " + formatDurationMs(maxMs) +
                 got(e, *t));
    return std::nullopt;
  }
  return ms;
}

std::optional<std::vector<Parser::ListItem>> Parser::stringList(const Entry& e) {
  if (!e.value.IsSequence()) {
    error(e, "expected a list of strings");
    return std::nullopt;
  }
  std::vector<ListItem> items;
  bool ok = true;
  for (size_t i = 0; i < e.value.size(); ++i) {
    const YAML::Node item = e.value[i];
    const std::string path = e.path + "[" + std::to_string(i) + "]";
    const YAML::Mark mark = item.Mark().line >= 0 ? item.Mark() : e.value.Mark();
    bool substituted = false;
    auto t = text(item, mark, path, true, &substituted);
    if (!t) {
      ok = false;
      continue;
    }
    if (t->empty()) {
      error(mark, path, "must not be empty");
      ok = false;
      continue;
    }
    items.push_back(ListItem{std::move(*t), mark, !substituted});
  }
  if (!ok) return std::nullopt;
  return items;
}

void Parser::readServer(const std::vector<Entry>& root, ServerConfig& server) {
  std::vector<Entry> m;
  if (!readSubMap(root, "server",
                  {"listen", "threads", "trusted_proxies", "admin_token", "webhook_header"}, m)) {
    return;
  }
  const Entry* listen = find(m, "listen");
  if (listen != nullptr) {
    if (listen->value.IsSequence()) {
      error(*listen, "expected host:port; quote IPv6 addresses: \"[::1]:8080\"");
    } else if (const auto t = text(*listen)) {
      std::string host;
      uint16_t port = 0;
      const std::string problem = parseListen(*t, host, port);
      if (!problem.empty()) {
        error(*listen, problem + got(*listen, *t));
      } else {
        server.listenHost = host;
        server.listenPort = port;
      }
    }
  }
  if (const Entry* e = find(m, "threads")) set(server.threads, integer(*e, 0, 1024));
  if (const Entry* e = find(m, "trusted_proxies")) {
    if (const auto items = stringList(*e)) {
      for (size_t i = 0; i < items->size(); ++i) {
        const ListItem& item = (*items)[i];
        const std::string& value = item.value;
        if (!isAddressOrCidr(value)) {
          error(item.mark, e->path + "[" + std::to_string(i) + "]",
                "expected an IP address or a CIDR block such as 10.0.0.0/8 (got " + item.quoted() +
                    ")");
        } else {
          server.trustedProxies.push_back(value);
        }
      }
    }
  }
  if (const Entry* e = find(m, "admin_token")) {
    if (const auto t = text(*e)) {
      if (hasSpaceOrControl(*t)) error(*e, "must not contain white space or control characters");
      server.adminToken = *t;
    }
  }
  if (const Entry* e = find(m, "webhook_header")) {
    if (const auto t = text(*e)) {
      if (!isHttpToken(*t)) {
        error(*e, "expected an HTTP header name such as X-Sluice-Write-Key" + got(*e, *t));
      } else {
        server.webhookHeader = *t;
      }
    }
  }
  if (listen != nullptr && server.adminToken.empty() && !isLoopback(server.listenHost)) {
    error(*listen, "server.admin_token is required when listening beyond the loopback interface");
  }
}

void Parser::readStorage(const std::vector<Entry>& root, StorageConfig& storage) {
  std::vector<Entry> m;
  if (!readSubMap(root, "storage",
                  {"path", "retention", "min_free_space", "dedup_window", "dedup_max_events",
                   "commit_interval"},
                  m)) {
    return;
  }
  if (const Entry* e = find(m, "path")) {
    if (const auto t = text(*e)) {
      if (t->empty()) {
        error(*e, "must not be empty");
      } else {
        storage.path = *t;
      }
    }
  }
  constexpr int64_t kYearMs = 366LL * 86'400'000;
  if (const Entry* e = find(m, "retention")) set(storage.retentionMs, duration(*e, 60'000, kYearMs));
  if (const Entry* e = find(m, "min_free_space")) {
    if (const auto t = text(*e)) {
      if (const auto bytes = parseBytes(*t)) {
        storage.minFreeBytes = *bytes;
      } else {
        error(*e, "expected a size such as 512MB, 1GiB or a number of bytes" + got(*e, *t));
      }
    }
  }
  if (const Entry* e = find(m, "dedup_window")) {
    set(storage.dedupWindowMs, duration(*e, 0, 30LL * 86'400'000));
  }
  if (const Entry* e = find(m, "dedup_max_events")) {
    set(storage.dedupMaxEvents, integer(*e, 0, 1'000'000'000));
  }
  if (const Entry* e = find(m, "commit_interval")) {
    if (const auto t = text(*e)) {
      if (t->find('.') != std::string::npos) {
        error(*e, "expected a whole number of milliseconds such as 1ms" + got(*e, *t));
      } else {
        set(storage.commitIntervalMs, duration(*e, 0, 100));
      }
    }
  }
}

void Parser::readLogging(const std::vector<Entry>& root, LoggingConfig& logging) {
  std::vector<Entry> m;
  if (!readSubMap(root, "logging", {"level", "format"}, m)) return;
  const std::vector<std::string> levels = {"trace", "debug", "info", "warn", "error", "off"};
  const std::vector<std::string> formats = {"text", "json"};
  if (const Entry* e = find(m, "level")) {
    if (const auto t = text(*e)) {
      if (std::find(levels.begin(), levels.end(), *t) == levels.end()) {
        error(*e, "expected " + quoteList(levels) + got(*e, *t));
      } else {
        logging.level = *t;
      }
    }
  }
  if (const Entry* e = find(m, "format")) {
    if (const auto t = text(*e)) {
      if (std::find(formats.begin(), formats.end(), *t) == formats.end()) {
        error(*e, "expected " + quoteList(formats) + got(*e, *t));
      } else {
        logging.format = *t;
      }
    }
  }
}

void Parser::readAlerts(const std::vector<Entry>& root, AlertsConfig& alerts) {
  std::vector<Entry> m;
  if (!readSubMap(root, "alerts",
                  {"sample_interval", "resolve_after", "paused", "backlog_age", "error_rate",
                   "volume_drop", "webhook_attempts", "webhook_timeout", "webhooks"},
                  m)) {
    return;
  }
  constexpr int64_t kDayMs = 86'400'000;
  if (const Entry* e = find(m, "sample_interval")) {
    set(alerts.sampleIntervalMs, duration(*e, 10, 10 * 60'000));
  }
  if (const Entry* e = find(m, "resolve_after")) {
    set(alerts.resolveAfterMs, duration(*e, 0, kDayMs));
  }
  if (const Entry* e = find(m, "paused")) set(alerts.paused, boolean(*e));
  if (const Entry* e = find(m, "backlog_age")) {
    set(alerts.backlogAgeMs, duration(*e, 0, 30 * kDayMs));
  }
  std::vector<Entry> errorRate;
  if (readSubMap(m, "error_rate", {"above", "window", "min_requests"}, errorRate)) {
    if (const Entry* e = find(errorRate, "above")) set(alerts.errorRate, number(*e, 0, 1));
    if (const Entry* e = find(errorRate, "window")) {
      set(alerts.errorRateWindowMs, duration(*e, 1'000, kDayMs));
    }
    if (const Entry* e = find(errorRate, "min_requests")) {
      set(alerts.errorRateMinRequests, integer(*e, 1, 1'000'000));
    }
  }
  std::vector<Entry> drop;
  if (readSubMap(m, "volume_drop",
                 {"enabled", "below", "for", "recover_above", "recover_for", "rate_window",
                  "moving_average", "min_events", "history_days"},
                 drop)) {
    VolumeDropConfig& v = alerts.volumeDrop;
    if (const Entry* e = find(drop, "enabled")) set(v.enabled, boolean(*e));
    if (const Entry* e = find(drop, "below")) set(v.below, number(*e, 0.01, 0.99));
    if (const Entry* e = find(drop, "for")) set(v.forMs, duration(*e, 0, kDayMs));
    if (const Entry* e = find(drop, "recover_above")) set(v.recoverAbove, number(*e, 0.01, 1));
    if (const Entry* e = find(drop, "recover_for")) set(v.recoverForMs, duration(*e, 0, kDayMs));
    if (const Entry* e = find(drop, "rate_window")) {
      set(v.rateWindowMs, duration(*e, 60'000, 6 * 3'600'000));
    }
    if (const Entry* e = find(drop, "moving_average")) {
      set(v.movingAverageMs, duration(*e, 10 * 60'000, kDayMs));
    }
    if (const Entry* e = find(drop, "min_events")) set(v.minEvents, integer(*e, 1, 100'000'000));
    if (const Entry* e = find(drop, "history_days")) set(v.historyDays, integer(*e, 1, 14));
    const Entry* recover = find(drop, "recover_above");
    if (recover != nullptr && v.recoverAbove < v.below) {
      error(*recover,
            "must not be below volume_drop.below, or an alert would resolve while the "
            "volume is still low");
    }
  }
  if (const Entry* e = find(m, "webhook_attempts")) set(alerts.webhookAttempts, integer(*e, 1, 20));
  if (const Entry* e = find(m, "webhook_timeout")) {
    set(alerts.webhookTimeoutMs, duration(*e, 100, 5 * 60'000));
  }
  if (const Entry* list = find(m, "webhooks")) {
    if (!list->value.IsSequence()) {
      error(*list, "expected a list of webhooks");
    } else {
      for (size_t i = 0; i < list->value.size(); ++i) {
        WebhookConfig webhook;
        readWebhook(list->value[i], list->path + "[" + std::to_string(i) + "]", webhook);
        alerts.webhooks.push_back(std::move(webhook));
      }
    }
  }
}

// The URL and header values are secrets: they are checked but never quoted back.
void Parser::readWebhook(const YAML::Node& node, const std::string& path, WebhookConfig& webhook) {
  std::vector<Entry> m;
  if (!readMap(node, node.Mark(), path, {"url", "format", "headers"}, m)) return;
  webhook.position = positionOf(node.Mark());
  if (const Entry* e = find(m, "url")) {
    if (const auto t = text(*e)) {
      if (!isHttpUrl(*t)) {
        error(*e, "expected an http:// or https:// URL");
      } else {
        webhook.url = *t;
      }
    }
  } else {
    missing(m, "url", node.Mark(), path);
  }
  if (const Entry* e = find(m, "format")) {
    if (const auto t = text(*e)) {
      const std::vector<std::string> formats = {"json", "slack"};
      if (std::find(formats.begin(), formats.end(), *t) == formats.end()) {
        error(*e, "expected " + quoteList(formats) + got(*e, *t));
      } else {
        webhook.format = *t;
      }
    }
  }
  if (const Entry* e = find(m, "headers")) {
    if (!e->value.IsMap()) {
      error(*e, "expected an object of header names and values");
      return;
    }
    for (auto it = e->value.begin(); it != e->value.end(); ++it) {
      const YAML::Node key = it->first;
      const YAML::Node value = it->second;
      const std::string name = key.IsScalar() ? key.Scalar() : "";
      const std::string headerPath = e->path + "." + printable(name);
      if (!isHttpToken(name)) {
        error(key.Mark(), e->path, "expected an HTTP header name such as Authorization");
        continue;
      }
      const YAML::Mark mark =
          value.IsDefined() && value.Mark().line >= 0 ? value.Mark() : key.Mark();
      const auto t = text(value, mark, headerPath, true, nullptr);
      if (!t) continue;
      if (std::any_of(t->begin(), t->end(),
                      [](char c) { return c == '\r' || c == '\n' || c == '\0'; })) {
        error(mark, headerPath, "must not contain line breaks");
        continue;
      }
      webhook.headers.emplace_back(name, *t);
    }
  }
}

void Parser::readIncidents(const std::vector<Entry>& root, IncidentsConfig& incidents) {
  std::vector<Entry> m;
  if (!readSubMap(
          root, "incidents",
          {"sample_interval", "backlog_age_threshold", "drained_age", "open_after", "close_after"},
          m)) {
    return;
  }
  if (const Entry* e = find(m, "sample_interval")) {
    set(incidents.sampleIntervalMs, duration(*e, 10, 10 * 60'000));
  }
  if (const Entry* e = find(m, "backlog_age_threshold")) {
    set(incidents.backlogAgeThresholdMs, duration(*e, 1'000, 7LL * 86'400'000));
  }
  if (const Entry* e = find(m, "drained_age")) {
    set(incidents.drainedAgeMs, duration(*e, 0, 7LL * 86'400'000));
  }
  if (const Entry* e = find(m, "open_after")) set(incidents.openAfter, integer(*e, 1, 1000));
  if (const Entry* e = find(m, "close_after")) set(incidents.closeAfter, integer(*e, 1, 1000));
}

void Parser::readSources(const std::vector<Entry>& root, std::vector<SourceConfig>& sources) {
  const Entry* list = find(root, "sources");
  if (list == nullptr) {
    const Entry* any = nullptr;
    for (const auto& e : root) {
      if (e.key == "sources") any = &e;
    }
    if (any != nullptr) {
      error(*any, "at least one source is required");
    } else {
      problems_.push_back(Problem{0, 0, "sources: at least one source is required"});
    }
    return;
  }
  if (!list->value.IsSequence()) {
    error(*list, "expected a list of sources");
    return;
  }
  if (list->value.size() == 0) error(*list, "at least one source is required");
  std::vector<YAML::Mark> keyMarks;
  for (size_t i = 0; i < list->value.size(); ++i) {
    const YAML::Node node = list->value[i];
    const std::string path = "sources[" + std::to_string(i) + "]";
    std::vector<Entry> m;
    if (!readMap(node, node.Mark(), path, {"name", "write_key"}, m)) continue;
    SourceConfig s;
    s.position = positionOf(node.Mark());
    if (const Entry* e = find(m, "name")) {
      if (const auto t = text(*e)) {
        if (!isValidName(*t)) {
          error(*e, "names are 1-64 letters, digits, '_', '-' or '.', starting with a letter or "
                    "digit" + got(*e, *t));
        } else if (const SourceConfig* other = [&]() -> const SourceConfig* {
                     for (const auto& o : sources) {
                       if (o.name == *t) return &o;
                     }
                     return nullptr;
                   }()) {
          error(*e, "duplicate source name '" + *t + "' (also at line " +
                        std::to_string(other->position.line) + ")");
        }
        s.name = *t;
      }
    } else {
      missing(m, "name", node.Mark(), path);
    }
    YAML::Mark keyMark = node.Mark();
    if (const Entry* e = find(m, "write_key")) {
      keyMark = markOf(*e);
      if (const auto t = text(*e)) {
        if (t->empty()) {
          error(*e, "required (it is empty)");
        } else if (hasSpaceOrControl(*t)) {
          error(*e, "must not contain white space or control characters");
        } else {
          for (size_t j = 0; j < sources.size(); ++j) {
            if (!sources[j].writeKey.empty() && sources[j].writeKey == *t) {
              error(*e, "the same write key as source '" + sources[j].name +
                            "'; every source needs its own key");
              break;
            }
          }
        }
        s.writeKey = *t;
      }
    } else {
      missing(m, "write_key", node.Mark(), path);
    }
    sources.push_back(std::move(s));
  }
}

Position Parser::contentPosition(const YAML::Node& node) const {
  Position p = positionOf(node.Mark());
  const auto pos = static_cast<size_t>(std::max(0, node.Mark().pos));
  if (pos >= text_.size() || node.Mark().line < 0) return p;
  const char c = text_[pos];
  if (c == '"' || c == '\'') {
    ++p.column;
  } else if (c == '|' || c == '>') {
    const size_t newline = text_.find('\n', pos);
    if (newline == std::string_view::npos) return p;
    size_t i = newline + 1;
    while (i < text_.size() && text_[i] == ' ') ++i;
    p.line += 1;
    p.column = static_cast<int>(i - newline);
  }
  return p;
}

bool Parser::appendJson(const YAML::Node& node, const std::string& path, JsonWriter& w) {
  if (!node.IsDefined() || node.IsNull()) {
    w.null();
    return true;
  }
  if (node.IsMap()) {
    w.beginObject();
    std::set<std::string> seen;
    bool ok = true;
    for (auto it = node.begin(); it != node.end(); ++it) {
      if (!it->first.IsScalar()) {
        error(it->first.Mark(), path, "keys must be strings");
        ok = false;
        continue;
      }
      const std::string& key = it->first.Scalar();
      if (!seen.insert(key).second) {
        error(it->first.Mark(), path, "duplicate key '" + printable(key) + "'");
        ok = false;
        continue;
      }
      w.key(key);
      ok = appendJson(it->second, path + "." + printable(key), w) && ok;
    }
    w.endObject();
    return ok;
  }
  if (node.IsSequence()) {
    w.beginArray();
    bool ok = true;
    for (size_t i = 0; i < node.size(); ++i) {
      ok = appendJson(node[i], path + "[" + std::to_string(i) + "]", w) && ok;
    }
    w.endArray();
    return ok;
  }
  const std::string& s = node.Scalar();
  const std::string& tag = node.Tag();
  if (tag == "!" || tag == "tag:yaml.org,2002:str") {
    w.value(s);
    return true;
  }
  if (tag != "?" && tag.rfind("tag:yaml.org,2002:", 0) != 0) {
    error(node.Mark(), path, "unsupported YAML tag '" + printable(tag) + "'");
    return false;
  }
  if (isYamlNull(s)) {
    w.null();
  } else if (s == "true" || s == "True" || s == "TRUE") {
    w.value(true);
  } else if (s == "false" || s == "False" || s == "FALSE") {
    w.value(false);
  } else if (isJsonNumber(s)) {
    w.raw(s);
  } else if (const std::string number = yamlNumberAsJson(s); number == "!") {
    error(node.Mark(), path, "'" + printable(s) + "' cannot be written in JSON");
    return false;
  } else if (!number.empty()) {
    w.raw(number);
  } else {
    w.value(s);
  }
  return true;
}

void Parser::readSubscription(const YAML::Node& node, const std::string& path,
                              SubscriptionConfig& s) {
  std::vector<Entry> m;
  s.position = positionOf(node.Mark());
  if (!readMap(node, node.Mark(), path, {"name", "trigger", "action", "mapping", "merge_defaults"},
               m)) {
    return;
  }
  if (const Entry* e = find(m, "name")) {
    if (const auto t = text(*e)) {
      if (t->size() > 100) {
        error(*e, "at most 100 characters");
      } else {
        s.name = *t;
      }
    }
  } else {
    missing(m, "name", node.Mark(), path);
  }
  if (const Entry* e = find(m, "trigger")) {
    if (const auto t = text(*e, /*substitute=*/false)) {
      s.trigger = *t;
      s.triggerPosition = contentPosition(e->value);
    }
  }
  if (const Entry* e = find(m, "action")) {
    if (const auto t = text(*e)) {
      if (*t != kAction) {
        error(*e, std::string("the only action is '") + kAction + "'" + got(*e, *t));
      }
    }
  }
  if (const Entry* e = find(m, "mapping")) {
    s.mappingPosition = positionOf(e->value.Mark());
    YAML::Node spec = e->value;
    if (spec.IsScalar() && spec.Tag() == "!") {  // a quoted or block string holding JSON
      s.mappingPosition = contentPosition(e->value);
      try {
        spec = YAML::Load(e->value.Scalar());
      } catch (const YAML::Exception& ex) {
        error(e->value.Mark(), e->path,
              "the mapping text is not valid JSON: " + ex.msg + " (line " +
                  std::to_string(ex.mark.line + 1) + ", column " +
                  std::to_string(ex.mark.column + 1) + " of the text)");
        return;
      }
    }
    if (!spec.IsMap()) {
      error(*e, "expected an object of field mappings (or a string holding one as JSON)");
    } else {
      JsonWriter w(false);
      if (appendJson(spec, e->path, w)) s.mappingJson = w.text();
    }
  }
  if (const Entry* e = find(m, "merge_defaults")) set(s.mergeDefaults, boolean(*e));
}

void Parser::readPresets(const Entry& e, std::vector<std::string>& presets) {
  const auto& known = knownPresetNames();
  if (e.value.IsScalar()) {
    const auto t = text(e);
    if (!t) return;
    if (*t == "all" || *t == "none") {
      presets = {*t};
    } else {
      error(e, "expected 'all', 'none' or a list of preset names" + got(e, *t));
    }
    return;
  }
  if (!e.value.IsSequence()) {
    error(e, "expected 'all', 'none' or a list of preset names");
    return;
  }
  const auto items = stringList(e);
  if (!items) return;
  std::vector<std::string> names;
  for (size_t i = 0; i < items->size(); ++i) {
    const ListItem& item = (*items)[i];
    const std::string& name = item.value;
    const YAML::Mark& mark = item.mark;
    const std::string path = e.path + "[" + std::to_string(i) + "]";
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      std::string hint = item.literal ? suggestion(name, known) : "";
      if (name == "all" || name == "none") hint = " (write `presets: " + name + "` without a list)";
      error(mark, path, "unknown preset " + item.quoted() + hint + "; the presets are " +
                            quoteList(known));
    } else if (std::find(names.begin(), names.end(), name) != names.end()) {
      error(mark, path, "preset " + item.quoted() + " is listed twice");
    } else {
      names.push_back(name);
    }
  }
  presets = names.empty() ? std::vector<std::string>{"none"} : names;
}

void Parser::readSettings(const std::vector<Entry>& m, const Entry& parent, TikTokSettings& s) {
  if (const Entry* e = find(m, "access_token")) {
    if (const auto t = text(*e)) {
      if (t->empty()) {
        error(*e, "required (it is empty)");
      } else if (hasSpaceOrControl(*t)) {
        error(*e, "must not contain white space or control characters");
      }
      s.accessToken = *t;
    }
  } else {
    missing(m, "access_token", parent.value.Mark(), parent.path);
  }
  if (const Entry* e = find(m, "pixel_code")) {
    if (const auto t = text(*e)) {
      if (t->empty()) {
        error(*e, "required (it is empty)");
      } else if (hasSpaceOrControl(*t)) {
        error(*e, "must not contain white space or control characters");
      }
      s.pixelCode = *t;
    }
  } else {
    missing(m, "pixel_code", parent.value.Mark(), parent.path);
  }
  if (const Entry* e = find(m, "api_url")) {
    if (const auto t = text(*e)) {
      if (!isHttpUrl(*t)) {
        error(*e, "expected an http:// or https:// URL" + got(*e, *t));
      } else {
        s.apiUrl = *t;
      }
    }
  }
  if (const Entry* e = find(m, "test_event_code")) set(s.testEventCode, text(*e));
  if (const Entry* e = find(m, "partner_name")) set(s.partnerName, text(*e));
  if (const Entry* e = find(m, "phone_default_region")) {
    if (const auto t = text(*e)) {
      const bool twoLetters = t->size() == 2 && std::isalpha(static_cast<unsigned char>((*t)[0])) &&
                              std::isalpha(static_cast<unsigned char>((*t)[1]));
      if (!t->empty() && !twoLetters) {
        error(*e, "expected a two-letter ISO 3166 region code such as US" + got(*e, *t));
      } else {
        s.phoneDefaultRegion = *t;
        for (auto& c : s.phoneDefaultRegion) {
          c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        }
      }
    }
  }
}

void Parser::readFlow(const std::vector<Entry>& m, const YAML::Mark& mark, const std::string& path,
                      FlowConfig& f) {
  constexpr int64_t kHourMs = 3'600'000;
  if (const Entry* e = find(m, "max_requests_per_second")) {
    set(f.maxRequestsPerSecond, number(*e, 0.001, 1e6));
  }
  if (const Entry* e = find(m, "max_events_per_second")) {
    set(f.maxEventsPerSecond, number(*e, 0.001, 1e9));
  }
  if (const Entry* e = find(m, "initial_concurrency")) set(f.initialConcurrency, integer(*e, 1, 1024));
  if (const Entry* e = find(m, "min_concurrency")) set(f.minConcurrency, integer(*e, 1, 1024));
  if (const Entry* e = find(m, "max_concurrency")) set(f.maxConcurrency, integer(*e, 1, 1024));
  if (f.minConcurrency > f.maxConcurrency) {
    error(mark, path, "min_concurrency (" + std::to_string(f.minConcurrency) +
                          ") is above max_concurrency (" + std::to_string(f.maxConcurrency) + ")");
  } else if (f.initialConcurrency < f.minConcurrency || f.initialConcurrency > f.maxConcurrency) {
    error(mark, path, "initial_concurrency (" + std::to_string(f.initialConcurrency) +
                          ") must be from min_concurrency (" + std::to_string(f.minConcurrency) +
                          ") to max_concurrency (" + std::to_string(f.maxConcurrency) + ")");
  }
  if (const Entry* e = find(m, "backoff_base")) set(f.backoffBaseMs, duration(*e, 1, kHourMs));
  if (const Entry* e = find(m, "backoff_cap")) set(f.backoffCapMs, duration(*e, 1, 24 * kHourMs));
  if (f.backoffCapMs < f.backoffBaseMs) {
    error(mark, path, "backoff_cap (" + formatDurationMs(f.backoffCapMs) +
                          ") is below backoff_base (" + formatDurationMs(f.backoffBaseMs) + ")");
  }
  if (const Entry* e = find(m, "retry_budget")) {
    if (const auto t = text(*e)) {
      const bool percent = !t->empty() && t->back() == '%';
      const std::string digits = percent ? t->substr(0, t->size() - 1) : *t;
      double value = -1;
      const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
      const bool parsed = !digits.empty() && ec == std::errc() &&
                          end == digits.data() + digits.size() && std::isfinite(value);
      if (percent) value /= 100;
      if (!parsed || value < 0 || value > 1) {
        error(*e, "expected a share from 0 to 1, or a percentage from 0% to 100%" + got(*e, *t));
      } else {
        f.retryBudgetRatio = value;
      }
    }
  }
  if (const Entry* e = find(m, "connect_timeout")) {
    set(f.connectTimeoutMs, duration(*e, 1, 10 * 60'000));
  }
  if (const Entry* e = find(m, "request_timeout")) {
    set(f.requestTimeoutMs, duration(*e, 1, 10 * 60'000));
  }
  if (const Entry* e = find(m, "breaker_failure_threshold")) {
    set(f.breakerFailureThreshold, integer(*e, 1, 1'000'000));
  }
  if (const Entry* e = find(m, "breaker_probe_interval")) {
    set(f.breakerProbeIntervalMs, duration(*e, 1, 24 * kHourMs));
  }
  if (const Entry* e = find(m, "paused_probe_interval")) {
    set(f.pausedProbeIntervalMs, duration(*e, 1, 24 * kHourMs));
  }
}

void Parser::readDestination(const YAML::Node& node, const std::string& path, const Config& config,
                             DestinationConfig& d) {
  d.position = positionOf(node.Mark());
  std::vector<Entry> m;
  if (!readMap(node, node.Mark(), path,
               {"name", "type", "enabled", "settings", "presets", "subscriptions", "sources",
                "batch", "flow", "max_event_age", "canary"},
               m)) {
    return;
  }
  if (const Entry* e = find(m, "name")) {
    if (const auto t = text(*e)) {
      if (!isValidName(*t)) {
        error(*e, "names are 1-64 letters, digits, '_', '-' or '.', starting with a letter or "
                  "digit" + got(*e, *t));
      }
      d.name = *t;
    }
  } else {
    missing(m, "name", node.Mark(), path);
  }
  if (const Entry* e = find(m, "type")) {
    if (const auto t = text(*e)) {
      if (*t != kDestinationType) {
        error(*e, std::string("unknown destination type; the only type is '") + kDestinationType +
                      "'" + got(*e, *t));
      }
      d.type = *t;
    }
  } else {
    missing(m, "type", node.Mark(), path,
            std::string("required ('") + kDestinationType + "')");
  }
  if (const Entry* e = find(m, "enabled")) set(d.enabled, boolean(*e));
  if (const Entry* e = find(m, "settings")) {
    std::vector<Entry> s;
    if (readMap(e->value, e->value.Mark(), e->path,
                {"access_token", "pixel_code", "api_url", "test_event_code", "partner_name",
                 "phone_default_region"},
                s)) {
      readSettings(s, *e, d.settings);
    }
  } else {
    missing(m, "settings", node.Mark(), path, "required (access_token and pixel_code)");
  }
  if (const Entry* e = find(m, "presets")) readPresets(*e, d.presets);
  const Entry* subscriptions = find(m, "subscriptions");
  if (subscriptions != nullptr) {
    if (!subscriptions->value.IsSequence()) {
      error(*subscriptions, "expected a list of subscriptions");
    } else {
      const std::vector<std::string> enabledPresets =
          d.presets == std::vector<std::string>{"all"}    ? knownPresetNames()
          : d.presets == std::vector<std::string>{"none"} ? std::vector<std::string>{}
                                                          : d.presets;
      for (size_t i = 0; i < subscriptions->value.size(); ++i) {
        SubscriptionConfig s;
        const YAML::Node item = subscriptions->value[i];
        const std::string itemPath = subscriptions->path + "[" + std::to_string(i) + "]";
        readSubscription(item, itemPath, s);
        if (!s.name.empty()) {
          const YAML::Mark at = item.IsMap() && item["name"] ? item["name"].Mark() : item.Mark();
          if (std::find(enabledPresets.begin(), enabledPresets.end(), s.name) !=
              enabledPresets.end()) {
            error(at, itemPath + ".name",
                  "'" + printable(s.name) + "' is the name of an enabled preset; choose another name");
          }
          for (const auto& other : d.subscriptions) {
            if (other.name == s.name) {
              error(at, itemPath + ".name", "duplicate subscription name '" + printable(s.name) +
                                                "' (also at line " +
                                                std::to_string(other.position.line) + ")");
              break;
            }
          }
        }
        d.subscriptions.push_back(std::move(s));
      }
    }
  }
  const size_t presetCount = d.presets == std::vector<std::string>{"all"} ? knownPresetNames().size()
                             : d.presets == std::vector<std::string>{"none"} ? 0
                                                                            : d.presets.size();
  if (presetCount + d.subscriptions.size() > kMaxRulesPerDestination) {
    error(subscriptions != nullptr ? subscriptions->keyNode.Mark() : node.Mark(), path,
          std::to_string(presetCount) + " presets and " + std::to_string(d.subscriptions.size()) +
              " subscriptions; at most " + std::to_string(kMaxRulesPerDestination) +
              " in all per destination");
  }
  if (const Entry* e = find(m, "sources")) {
    if (const auto items = stringList(*e)) {
      std::vector<std::string> names;
      for (const auto& s : config.sources) names.push_back(s.name);
      for (size_t i = 0; i < items->size(); ++i) {
        const ListItem& item = (*items)[i];
        const std::string& name = item.value;
        const std::string itemPath = e->path + "[" + std::to_string(i) + "]";
        if (config.findSource(name) == nullptr) {
          error(item.mark, itemPath, "unknown source " + item.quoted() +
                                         (item.literal ? suggestion(name, names) : ""));
        } else if (std::find(d.sources.begin(), d.sources.end(), name) != d.sources.end()) {
          error(item.mark, itemPath, "source " + item.quoted() + " is listed twice");
        } else {
          d.sources.push_back(name);
        }
      }
    }
  }
  std::vector<Entry> batch;
  if (readSubMap(m, "batch", {"max_events", "linger", "map_threads"}, batch)) {
    if (const Entry* e = find(batch, "max_events")) set(d.batch.maxEvents, integer(*e, 1, 1000));
    if (const Entry* e = find(batch, "linger")) set(d.batch.lingerMs, duration(*e, 0, 60'000));
    if (const Entry* e = find(batch, "map_threads")) set(d.batch.mapThreads, integer(*e, 0, 64));
  }
  std::vector<Entry> flow;
  if (readSubMap(m, "flow",
                 {"max_requests_per_second", "max_events_per_second", "initial_concurrency",
                  "min_concurrency", "max_concurrency", "backoff_base", "backoff_cap",
                  "retry_budget", "connect_timeout", "request_timeout",
                  "breaker_failure_threshold", "breaker_probe_interval", "paused_probe_interval"},
                 flow)) {
    const Entry* e = find(m, "flow");
    readFlow(flow, e->value.Mark(), e->path, d.flow);
  }
  if (const Entry* e = find(m, "max_event_age")) {
    set(d.maxEventAgeMs, duration(*e, 60'000, 366LL * 86'400'000));
  }
  std::vector<Entry> canary;
  if (readSubMap(m, "canary", {"enabled", "interval"}, canary)) {
    if (const Entry* e = find(canary, "enabled")) set(d.canaryEnabled, boolean(*e));
    if (const Entry* e = find(canary, "interval")) {
      set(d.canaryIntervalMs, duration(*e, 1'000, 24LL * 3'600'000));
    }
    const Entry* enabled = find(canary, "enabled");
    if (enabled != nullptr && d.canaryEnabled && d.settings.testEventCode.empty()) {
      error(*enabled,
            "the canary needs settings.test_event_code (so that TikTok treats it as a test "
            "event, never as a conversion)");
    }
  }
}

void Parser::readDestinations(const std::vector<Entry>& root, const Config& config,
                              std::vector<DestinationConfig>& destinations) {
  const Entry* list = find(root, "destinations");
  if (list == nullptr) return;
  if (!list->value.IsSequence()) {
    error(*list, "expected a list of destinations");
    return;
  }
  for (size_t i = 0; i < list->value.size(); ++i) {
    DestinationConfig d;
    const YAML::Node node = list->value[i];
    const std::string path = "destinations[" + std::to_string(i) + "]";
    readDestination(node, path, config, d);
    if (!d.name.empty()) {
      for (const auto& other : destinations) {
        if (other.name == d.name) {
          const YAML::Mark at = node.IsMap() && node["name"] ? node["name"].Mark() : node.Mark();
          error(at, path + ".name", "duplicate destination name '" + d.name + "' (also at line " +
                                        std::to_string(other.position.line) + ")");
          break;
        }
      }
    }
    destinations.push_back(std::move(d));
  }
}

Result<Config> Parser::run() {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text_));
    if (!root.IsDefined() || root.IsNull()) {
      // yaml-cpp reads some broken files (one starting with ',') as empty without an error.
      if (const int line = firstContentLine(text_); line > 0) {
        return fail(ErrorCode::kInvalidArgument,
                    Position{file_, line, 1}.toString() +
                        ": not valid YAML: no configuration could be read from this text");
      }
    }
    if (const auto second = secondDocument(text_)) {
      return fail(ErrorCode::kInvalidArgument,
                  positionOf(*second).toString() +
                      ": top level: only one YAML document per file (a second one follows '---')");
    }
  } catch (const YAML::Exception& e) {
    return fail(ErrorCode::kInvalidArgument,
                positionOf(e.mark).toString() + ": not valid YAML: " + e.msg);
  }
  Config config;
  config.file = file_;
  std::vector<Entry> entries;
  if (root.IsDefined() && !root.IsNull()) {
    readMap(root, root.Mark(), "",
            {"server", "storage", "logging", "incidents", "alerts", "sources", "destinations"},
            entries);
  }
  readServer(entries, config.server);
  readStorage(entries, config.storage);
  readLogging(entries, config.logging);
  readIncidents(entries, config.incidents);
  readAlerts(entries, config.alerts);
  readSources(entries, config.sources);
  readDestinations(entries, config, config.destinations);

  if (problems_.empty()) return config;
  std::stable_sort(problems_.begin(), problems_.end(), [](const Problem& a, const Problem& b) {
    const auto key = [](const Problem& p) {
      return std::make_pair(p.line == 0 ? INT32_MAX : p.line, p.column);
    };
    return key(a) < key(b);
  });
  std::string message;
  for (size_t i = 0; i < problems_.size() && i < kMaxReportedErrors; ++i) {
    if (i > 0) message += '\n';
    const Position p{file_, problems_[i].line, problems_[i].column};
    message += p.toString() + ": " + problems_[i].text;
  }
  if (problems_.size() > kMaxReportedErrors) {
    message += "\n" + file_ + ": ... and " + std::to_string(problems_.size() - kMaxReportedErrors) +
               " more problems";
  }
  return fail(ErrorCode::kInvalidArgument, std::move(message));
}

}  // namespace

Result<Config> parseConfig(std::string_view text, const std::string& fileName,
                           const ParseOptions& options) {
  return Parser(text, fileName, options).run();
}

Result<Config> loadConfig(const std::string& path, const ParseOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return fail(ErrorCode::kIo,
                "cannot read configuration file '" + path + "': " + std::strerror(errno));
  }
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) return fail(ErrorCode::kIo, "cannot read configuration file '" + path + "'");
  return parseConfig(contents.str(), path, options);
}

}  // namespace sluice::config
