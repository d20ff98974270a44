// api/mask.h — applicants' personal data as lists and summaries show it.
//
// Contract: pure functions on UTF-8 text; a masked value never holds more of
// the original than stated, and an empty value stays empty.
// - ID number (身份证号): the first 6 and the last 4 characters, the rest '*'
//   ("220102********1234"); 10 characters or fewer: all but the last 2 '*'.
// - Phone: the first 3 and the last 4 characters ("138****5678"); 7 or
//   fewer: all but the last 2 '*'.
// - Name: the first and the last character (code points), one '*' for each
//   between ("张*明", "欧**华"); two characters: the first and '*'; one: '*'.
// - Any JSON value (mask_personal): every string or number under a key that
//   names personal data, at any depth, masked by what the key names: an ID
//   number (idNumber, idCard, 身份证) as above, a phone (phone, mobile, tel…)
//   as above, a name (…name…, 姓名) as above, an address or a bank account
//   (address, 住址, bank, account) all but its last 4 characters, a business
//   or correlation key (businessKey, correlationKey) by mask_key. The keys
//   are the console's (console/src/lib/format.js), matched without regard to
//   case.
#pragma once

#include <string>
#include <string_view>

#include <boost/json/value.hpp>

namespace banshi::api {

std::string mask_id_number(std::string_view id);
std::string mask_phone(std::string_view phone);
std::string mask_name(std::string_view name);

// Masks `value` in place as held under `key` (empty: a value with no name of
// its own; only the members of its objects are looked at).
void mask_personal(boost::json::value& value, std::string_view key = {});

// A business or correlation key as lists, tasks, events and history show it:
// masked as an ID number when it has that shape (the linked services of a
// certificate run under the holder's ID number), else as it is.
std::string mask_key(std::string_view key);

// The shape of a resident ID number: 17 digits and a digit or X (x), or the
// 15 digits of an old card. The check digit is not verified.
bool valid_id_number(std::string_view id);

}  // namespace banshi::api
