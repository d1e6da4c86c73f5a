// A strict JSON syntax check for tests (RFC 8259), written for the tests, independent of the
// runtime's JSON writer.
#pragma once

#include <cctype>
#include <cstring>
#include <string>

namespace tpusim::runtime {

// A strict recursive-descent JSON syntax check (RFC 8259), written for this test.
class JsonChecker {
 public:
  explicit JsonChecker(const std::string& s) : s_(s) {}
  bool Valid() {
    Space();
    if (!Value()) return false;
    Space();
    return i_ == s_.size();
  }

 private:
  void Space() { while (i_ < s_.size() && std::strchr(" \t\r\n", s_[i_]) != nullptr) ++i_; }
  bool Eat(char c) {
    if (i_ < s_.size() && s_[i_] == c) { ++i_; return true; }
    return false;
  }
  bool Literal(const char* word) {
    const size_t n = std::strlen(word);
    if (s_.compare(i_, n, word) != 0) return false;
    i_ += n;
    return true;
  }
  bool String() {
    if (!Eat('"')) return false;
    while (i_ < s_.size()) {
      const unsigned char c = s_[i_++];
      if (c == '"') return true;
      if (c < 0x20) return false;
      if (c == '\\') {
        if (i_ >= s_.size()) return false;
        const char e = s_[i_++];
        if (e == 'u') {
          for (int k = 0; k < 4; ++k) {
            if (i_ >= s_.size() || !std::isxdigit(static_cast<unsigned char>(s_[i_++]))) return false;
          }
        } else if (std::strchr("\"\\/bfnrt", e) == nullptr) {
          return false;
        }
      }
    }
    return false;
  }
  bool Number() {
    const size_t start = i_;
    Eat('-');
    while (i_ < s_.size() && std::strchr("0123456789.eE+-", s_[i_]) != nullptr) ++i_;
    return i_ > start && std::isdigit(static_cast<unsigned char>(s_[i_ - 1]));
  }
  bool Value() {
    Space();
    if (i_ >= s_.size()) return false;
    const char c = s_[i_];
    if (c == '{') {
      ++i_;
      Space();
      if (Eat('}')) return true;
      do {
        Space();
        if (!String()) return false;
        Space();
        if (!Eat(':') || !Value()) return false;
        Space();
      } while (Eat(','));
      return Eat('}');
    }
    if (c == '[') {
      ++i_;
      Space();
      if (Eat(']')) return true;
      do {
        if (!Value()) return false;
        Space();
      } while (Eat(','));
      return Eat(']');
    }
    if (c == '"') return String();
    if (c == 't') return Literal("true");
    if (c == 'f') return Literal("false");
    if (c == 'n') return Literal("null");
    return Number();
  }
  const std::string& s_;
  size_t i_ = 0;
};

}  // namespace tpusim::runtime
