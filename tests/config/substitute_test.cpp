#include "config/substitute.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

namespace sluice::config {
namespace {

EnvLookup fixedEnv(std::map<std::string, std::string> values) {
  return [values](const std::string& name) -> std::optional<std::string> {
    const auto it = values.find(name);
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

TEST(SubstituteTest, PlainTextIsUnchanged) {
  bool substituted = true;
  const auto out = substituteVariables("a $b {c} $ end$", fixedEnv({}), &substituted);
  ASSERT_TRUE(out);
  EXPECT_EQ(*out, "a $b {c} $ end$");
  EXPECT_FALSE(substituted);
}

TEST(SubstituteTest, VariablesAndDefaults) {
  const auto env = fixedEnv({{"A", "1"}, {"EMPTY", ""}, {"B_2", "two"}});
  bool substituted = false;
  auto out = substituteVariables("${A}-${B_2}-${EMPTY}-${EMPTY:-d}-${UNSET:-x:y}-${A:-no}", env,
                                 &substituted);
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(*out, "1-two--d-x:y-1");
  EXPECT_TRUE(substituted);
  out = substituteVariables("${UNSET:-}", env);
  ASSERT_TRUE(out);
  EXPECT_EQ(*out, "");
}

TEST(SubstituteTest, EscapedDollarBrace) {
  bool substituted = true;
  const auto out = substituteVariables("$${A} and $${", fixedEnv({{"A", "1"}}), &substituted);
  ASSERT_TRUE(out);
  EXPECT_EQ(*out, "${A} and ${");
  EXPECT_FALSE(substituted);
}

TEST(SubstituteTest, Errors) {
  const auto env = fixedEnv({{"SET", "value-that-must-not-leak"}});
  auto out = substituteVariables("x${MISSING}y", env);
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().message, "environment variable MISSING is not set");
  out = substituteVariables("${SET", env);
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().message, "unterminated '${' (write '$${' for a literal '${')");
  for (const char* bad : {"${}", "${9A}", "${A-B}", "${SET:default}", "${ SET}"}) {
    out = substituteVariables(bad, env);
    ASSERT_FALSE(out) << bad;
    EXPECT_NE(out.error().message.find("invalid variable reference"), std::string::npos) << bad;
    EXPECT_EQ(out.error().message.find("value-that-must-not-leak"), std::string::npos);
  }
}

TEST(SubstituteTest, SecretFilesAreTrimmed) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("sluice-substitute-" + std::to_string(::getpid()));
  std::ofstream(path) << "\n  s3cr3t value \t\r\n";
  const auto out = substituteVariables("k=${file:" + path.string() + "}", fixedEnv({}));
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(*out, "k=s3cr3t value");
  std::filesystem::remove(path);
  const auto missing = substituteVariables("${file:" + path.string() + "}", fixedEnv({}));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message,
            "cannot read secret file '" + path.string() + "': No such file or directory");
  EXPECT_FALSE(substituteVariables("${file:}", fixedEnv({})));
}

}  // namespace
}  // namespace sluice::config
