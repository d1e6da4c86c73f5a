// Private to tpusim_isa: small string helpers over std::string_view. Debian's abseil (20220623) is
// built with its own absl::string_view, which does not convert from std::string_view, so absl::StrCat
// and friends cannot take the std::string_view used throughout the public headers.
#pragma once

#include <string>
#include <string_view>
#include <type_traits>

#include "absl/strings/str_cat.h"

namespace tpusim::isa::detail {

inline void AppendPiece(std::string& s, std::string_view v) { s.append(v.data(), v.size()); }
inline void AppendPiece(std::string& s, const char* v) { s.append(v); }
inline void AppendPiece(std::string& s, const std::string& v) { s.append(v); }
inline void AppendPiece(std::string& s, char c) { s.push_back(c); }
template <typename T, std::enable_if_t<std::is_arithmetic_v<T>, int> = 0>
inline void AppendPiece(std::string& s, T v) {
  absl::StrAppend(&s, v);
}
// Other string-like types (absl::string_view, which Status::message() returns).
template <typename T, std::enable_if_t<!std::is_arithmetic_v<T> &&
                                           !std::is_convertible_v<const T&, std::string_view>,
                                       int> = 0>
inline void AppendPiece(std::string& s, const T& v) {
  s.append(v.data(), v.size());
}

// Concatenates strings, string_views and numbers (numbers formatted as absl::StrCat does).
template <typename... Ts> std::string Cat(const Ts&... pieces) {
  std::string s;
  (AppendPiece(s, pieces), ...);
  return s;
}

inline char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

inline bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
  }
  return true;
}

inline bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && EqualsIgnoreCase(s.substr(0, prefix.size()), prefix);
}

inline bool IsAsciiSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'; }

inline std::string_view StripLeadingWhitespace(std::string_view s) {
  while (!s.empty() && IsAsciiSpace(s.front())) s.remove_prefix(1);
  return s;
}

inline std::string_view StripWhitespace(std::string_view s) {
  s = StripLeadingWhitespace(s);
  while (!s.empty() && IsAsciiSpace(s.back())) s.remove_suffix(1);
  return s;
}

// Joins `items` (anything AppendPiece accepts) with `sep`.
template <typename Container> std::string Join(const Container& items, std::string_view sep) {
  std::string s;
  bool first = true;
  for (const auto& item : items) {
    if (!first) AppendPiece(s, sep);
    AppendPiece(s, item);
    first = false;
  }
  return s;
}

}  // namespace tpusim::isa::detail
