#pragma once
/// \file
/// The little JSON safetensors headers need: a string escaper for writing, and a strict, bounded
/// parser for reading (RFC 8259 syntax, no extensions, limited depth and size, no duplicate keys).

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "neuroplast/core/error.hpp"

namespace neuroplast::detail {

/// `s` as a JSON string literal, quotes included.
inline std::string json_quote(std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out = "\"";
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 15];
        } else {
          out += ch;
        }
    }
  }
  out += '"';
  return out;
}

/// A parsed JSON value. Numbers keep their literal text (the caller decides what it may be);
/// objects keep their members in file order.
struct JsonValue {
  enum class Kind { null, boolean, number, string, array, object };
  Kind kind = Kind::null;
  bool boolean = false;
  std::string text{};  ///< a string's decoded value, or a number's literal
  std::vector<JsonValue> items{};
  std::vector<std::pair<std::string, JsonValue>> members{};

  /// The member named `key`, or null when absent (objects only).
  const JsonValue* find(std::string_view key) const {
    for (const auto& [k, v] : members)
      if (k == key) return &v;
    return nullptr;
  }
};

/// Strict JSON parser over a byte range. Depth is limited (safetensors headers need 3 levels), so
/// hostile nesting cannot exhaust the stack; every error is a FileError with the byte offset.
class JsonParser {
 public:
  /// `where` and `file` prefix messages; `base` is the file offset of `text`.
  JsonParser(std::string_view text, std::string where, std::string file, std::size_t base,
             int max_depth = 8)
      : s_(text),
        where_(std::move(where)),
        file_(std::move(file)),
        base_(base),
        max_depth_(max_depth) {}

  /// Parses one value that must span the whole text (surrounding whitespace allowed).
  JsonValue parse_document() {
    skip_space();
    JsonValue v = value(0);
    skip_space();
    if (pos_ != s_.size()) error("unexpected characters after the JSON value");
    return v;
  }

  /// Throws FileError "<where>: <file> has a bad JSON header: <what> (at byte <offset>)".
  [[noreturn]] void error(std::string_view what) const {
    fail<FileError>(where_, ": ", file_, " has a bad JSON header: ", what, " (at byte ",
                    base_ + pos_, ")");
  }

 private:
  JsonValue value(int depth) {
    if (depth > max_depth_) error("nesting deeper than a safetensors header has");
    if (++values_ > kMaxValues) error("more values than any network's header has");
    if (pos_ >= s_.size()) error("unexpected end of the header");
    const char c = s_[pos_];
    JsonValue v;
    if (c == '{') {
      v.kind = JsonValue::Kind::object;
      ++pos_;
      skip_space();
      if (peek('}')) return v;
      std::set<std::string, std::less<>> keys;  // duplicate check in O(log n), not O(n)
      while (true) {
        skip_space();
        if (pos_ >= s_.size() || s_[pos_] != '"') error("expected a quoted member name");
        std::string key = string();
        if (!keys.insert(key).second) error("a member name appears twice: " + key);
        skip_space();
        expect(':');
        skip_space();
        v.members.emplace_back(std::move(key), value(depth + 1));
        skip_space();
        if (peek('}')) return v;
        expect(',');
      }
    }
    if (c == '[') {
      v.kind = JsonValue::Kind::array;
      ++pos_;
      skip_space();
      if (peek(']')) return v;
      while (true) {
        skip_space();
        v.items.push_back(value(depth + 1));
        skip_space();
        if (peek(']')) return v;
        expect(',');
      }
    }
    if (c == '"') {
      v.kind = JsonValue::Kind::string;
      v.text = string();
      return v;
    }
    if (literal("true")) {
      v.kind = JsonValue::Kind::boolean;
      v.boolean = true;
      return v;
    }
    if (literal("false")) {
      v.kind = JsonValue::Kind::boolean;
      return v;
    }
    if (literal("null")) return v;
    if (c == '-' || (c >= '0' && c <= '9')) {
      v.kind = JsonValue::Kind::number;
      v.text = number();
      return v;
    }
    error("unexpected character");
  }

  std::string number() {
    const std::size_t start = pos_;
    (void)peek('-');
    if (pos_ >= s_.size() || !digit(s_[pos_])) error("a number needs digits");
    if (s_[pos_] == '0') {
      ++pos_;
    } else {
      while (pos_ < s_.size() && digit(s_[pos_])) ++pos_;
    }
    if (peek('.')) {
      if (pos_ >= s_.size() || !digit(s_[pos_])) error("a fraction needs digits");
      while (pos_ < s_.size() && digit(s_[pos_])) ++pos_;
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      ++pos_;
      (void)(peek('+') || peek('-'));
      if (pos_ >= s_.size() || !digit(s_[pos_])) error("an exponent needs digits");
      while (pos_ < s_.size() && digit(s_[pos_])) ++pos_;
    }
    return std::string(s_.substr(start, pos_ - start));
  }

  std::string string() {
    ++pos_;  // opening quote
    std::string out;
    while (true) {
      if (pos_ >= s_.size()) error("unterminated string");
      const auto c = static_cast<unsigned char>(s_[pos_++]);
      if (c == '"') return out;
      if (c < 0x20) error("raw control character in a string");
      if (c != '\\') {
        out += static_cast<char>(c);
        continue;
      }
      if (pos_ >= s_.size()) error("unterminated escape");
      const char e = s_[pos_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          std::uint32_t cp = hex4();
          if (cp >= 0xD800 && cp < 0xDC00) {  // a surrogate pair encodes one code point
            if (!(peek('\\') && peek('u'))) error("unpaired surrogate");
            const std::uint32_t low = hex4();
            if (low < 0xDC00 || low >= 0xE000) error("bad low surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          } else if (cp >= 0xDC00 && cp < 0xE000) {
            error("unpaired surrogate");
          }
          append_utf8(out, cp);
          break;
        }
        default: error("unknown escape");
      }
    }
  }

  std::uint32_t hex4() {
    if (s_.size() - pos_ < 4) error("short \\u escape");
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      const char h = s_[pos_++];
      v <<= 4;
      if (h >= '0' && h <= '9') {
        v |= static_cast<std::uint32_t>(h - '0');
      } else if (h >= 'a' && h <= 'f') {
        v |= static_cast<std::uint32_t>(h - 'a' + 10);
      } else if (h >= 'A' && h <= 'F') {
        v |= static_cast<std::uint32_t>(h - 'A' + 10);
      } else {
        error("bad hex digit in a \\u escape");
      }
    }
    return v;
  }

  static void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  static bool digit(char c) { return c >= '0' && c <= '9'; }
  bool literal(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }
  bool peek(char c) {
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!peek(c)) error(std::string("expected '") + c + "'");
  }
  void skip_space() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r'))
      ++pos_;
  }

  std::string_view s_;
  std::string where_;
  std::string file_;
  std::size_t base_ = 0;
  int max_depth_ = 8;
  std::size_t pos_ = 0;
  std::size_t values_ = 0;
  // Bounds the parsed tree's memory (~100 bytes a value) whatever the header's size.
  static constexpr std::size_t kMaxValues = std::size_t{1} << 20;
};

}  // namespace neuroplast::detail
