#include "tiktok/pii.h"

#include <gtest/gtest.h>

namespace sluice::tiktok {
namespace {

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  std::string out = "x";
  appendSha256Hex(out, "abc");
  EXPECT_EQ(out.size(), 65u);
  EXPECT_EQ(out.substr(1), sha256Hex("abc"));
}

TEST(Sha256, RecognisesDigests) {
  std::string digest = sha256Hex("a");
  EXPECT_TRUE(isSha256Hex(digest));
  std::string upper = digest;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_TRUE(isSha256Hex(upper));
  EXPECT_FALSE(isSha256Hex(digest.substr(1)));
  EXPECT_FALSE(isSha256Hex(digest.substr(1) + "g"));
}

TEST(JsText, LowerCaseTrimAndWhitespace) {
  EXPECT_EQ(jsLowerCase("ÜSER@EXÄMPLE.com"), "üser@exämple.com");
  EXPECT_EQ(jsLowerCase("ΑΒΓ Йо"), "αβγ йо");
  EXPECT_EQ(jsTrim("\t\u00a0 a b \u3000\n"), "a b");
  EXPECT_EQ(jsTrim("   "), "");
  EXPECT_EQ(removeJsWhitespace(" Zoë\u2003Ångström\t"), "ZoëÅngström");
}

TEST(Email, TrimmedLowerCasedHashed) {
  // D4: TikTok's rule is trim, then lower-case (Segment does not trim).
  EXPECT_EQ(*hashEmail("  John.Doe@Example.COM "), sha256Hex("john.doe@example.com"));
  EXPECT_EQ(*hashEmail("a@b.c"), sha256Hex("a@b.c"));
  // D5: blank values are dropped.
  EXPECT_FALSE(hashEmail("").has_value());
  EXPECT_FALSE(hashEmail(" \t ").has_value());
  // Already hashed: passed through (lower-cased, as Segment lower-cases before checking).
  std::string digest = sha256Hex("x");
  std::string upper = digest;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_EQ(*hashEmail(upper), digest);
}

TEST(Phone, SegmentNormalisationWithoutRegion) {
  EXPECT_EQ(normalizePhone("+1 415-555-0100", ""), "+14155550100");
  EXPECT_EQ(normalizePhone("(415) 555-0100", ""), "+4155550100");
  EXPECT_EQ(normalizePhone("0012345678901234567890", ""), "+00123456789012");  // 15 characters
  EXPECT_EQ(normalizePhone("no digits", ""), "+");
  EXPECT_EQ(*hashPhone("+1 415-555-0100", ""), sha256Hex("+14155550100"));
  EXPECT_FALSE(hashPhone("  ", "").has_value());
  std::string upper = "ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789";
  EXPECT_EQ(*hashPhone(upper, ""), upper);  // Segment keeps a pre-hashed phone's case
}

TEST(Phone, DefaultRegionMakesE164) {
  // D10: with a default region, numbers without a country code get that region's code.
  EXPECT_EQ(normalizePhone("(415) 555-0100", "US"), "+14155550100");
  EXPECT_EQ(normalizePhone("020 7946 0018", "GB"), "+442079460018");
  EXPECT_EQ(normalizePhone("+33 1 23 45 67 89", "US"), "+33123456789");  // own code kept
  // Not a possible number: Segment's normalisation.
  EXPECT_EQ(normalizePhone("12", "US"), "+12");
  EXPECT_EQ(formatE164("not a phone", "US"), "");
}

TEST(ExternalId, LowerCasedNotTrimmed) {
  EXPECT_EQ(*hashExternalId("User-42"), sha256Hex("user-42"));
  EXPECT_EQ(*hashExternalId(" u "), sha256Hex(" u "));
  EXPECT_FALSE(hashExternalId("").has_value());
  EXPECT_FALSE(hashExternalId("   ").has_value());
}

TEST(Names, WhitespaceRemovedLowerCasedHashed) {
  EXPECT_EQ(hashNamePart("Zoë Ångström"), sha256Hex("zoëångström"));
  EXPECT_EQ(hashNamePart("01310-100"), sha256Hex("01310-100"));
  EXPECT_EQ(hashNamePart("   "), "");
  EXPECT_EQ(hashNamePart(""), "");
}

TEST(Location, OnlyAsciiLettersAndDigits) {
  EXPECT_EQ(normalizeLocation("São Paulo"), "sopaulo");
  EXPECT_EQ(normalizeLocation("New-York 10"), "newyork10");
  EXPECT_EQ(normalizeLocation(""), "");
}

}  // namespace
}  // namespace sluice::tiktok
