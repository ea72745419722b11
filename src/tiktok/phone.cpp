// The only translation unit that includes libphonenumber (its headers are heavy).
#include <phonenumbers/phonenumber.pb.h>
#include <phonenumbers/phonenumberutil.h>

#include <string>
#include <string_view>

#include "tiktok/pii.h"

namespace sluice::tiktok {

std::string formatE164(std::string_view phone, std::string_view region) {
  using i18n::phonenumbers::PhoneNumber;
  using i18n::phonenumbers::PhoneNumberUtil;
  const PhoneNumberUtil* util = PhoneNumberUtil::GetInstance();
  PhoneNumber number;
  if (util->Parse(std::string(phone), std::string(region), &number) !=
      PhoneNumberUtil::NO_PARSING_ERROR) {
    return std::string();
  }
  if (!util->IsPossibleNumber(number)) return std::string();
  std::string out;
  util->Format(number, PhoneNumberUtil::E164, &out);
  return out;
}

bool isKnownPhoneRegion(std::string_view region) {
  using i18n::phonenumbers::PhoneNumberUtil;
  return PhoneNumberUtil::GetInstance()->GetCountryCodeForRegion(std::string(region)) != 0;
}

}  // namespace sluice::tiktok
