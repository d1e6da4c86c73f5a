// A minimal streaming JSON writer (private to the runtime library): objects, arrays, strings with
// RFC 8259 escaping, integers, doubles (non-finite values become null) and null. Output is 2-space
// indented, or compact. The caller nests Begin/End calls correctly; Key() precedes every value inside an object.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace tpusim::runtime::detail {

class JsonWriter {
 public:
  // indent: 2-space indented, one element per line; otherwise compact (large documents: traces).
  explicit JsonWriter(bool indent = true) : indent_(indent) {}
  void BeginObject() { OpenValue(); out_ += '{'; stack_.push_back(true); first_ = true; }
  void EndObject() { Close('}'); }
  void BeginArray() { OpenValue(); out_ += '['; stack_.push_back(false); first_ = true; }
  void EndArray() { Close(']'); }
  void Key(std::string_view key) {
    Separator();
    AppendString(key);
    out_ += ": ";
    after_key_ = true;
  }
  void String(std::string_view s) { OpenValue(); AppendString(s); }
  void Uint(uint64_t v) { OpenValue(); out_ += std::to_string(v); }
  void Int(int64_t v) { OpenValue(); out_ += std::to_string(v); }
  void Double(double v) {
    OpenValue();
    if (!std::isfinite(v)) { out_ += "null"; return; }
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.9g", v);
    out_ += buf;
  }
  // A number with exactly `decimals` digits after the point (timestamps: no exponent, fixed
  // resolution); non-finite values become null.
  void Fixed(double v, int decimals) {
    OpenValue();
    if (!std::isfinite(v)) { out_ += "null"; return; }
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%.*f", decimals, v);
    out_ += buf;
  }
  void Null() { OpenValue(); out_ += "null"; }
  // The document so far; complete once every Begin has its End.
  const std::string& str() const { return out_; }

 private:
  void Indent() {
    if (!indent_) return;
    out_ += '\n';
    out_.append(2 * stack_.size(), ' ');
  }
  // Comma and newline before an element or key (not after a key: the value follows on its line).
  void Separator() {
    if (!stack_.empty()) {
      if (!first_) out_ += ',';
      Indent();
    }
    first_ = false;
  }
  void OpenValue() {
    if (after_key_) { after_key_ = false; return; }
    Separator();
  }
  void Close(char c) {
    const bool empty = first_;
    stack_.pop_back();
    if (!empty) Indent();
    out_ += c;
    first_ = false;
    if (stack_.empty()) out_ += '\n';
  }
  void AppendString(std::string_view s) {
    out_ += '"';
    for (unsigned char c : s) {
      switch (c) {
        case '"': out_ += "\\\""; break;
        case '\\': out_ += "\\\\"; break;
        case '\b': out_ += "\\b"; break;
        case '\f': out_ += "\\f"; break;
        case '\n': out_ += "\\n"; break;
        case '\r': out_ += "\\r"; break;
        case '\t': out_ += "\\t"; break;
        default:
          if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof(buf), "\\u%04x", c);
            out_ += buf;
          } else {
            out_ += static_cast<char>(c);  // UTF-8 passes through unchanged
          }
      }
    }
    out_ += '"';
  }

  bool indent_ = true;
  std::string out_;
  std::vector<bool> stack_;  // true = object, false = array
  bool first_ = true;        // no element yet in the innermost container
  bool after_key_ = false;
};

}  // namespace tpusim::runtime::detail
