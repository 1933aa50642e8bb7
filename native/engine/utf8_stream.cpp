#include "engine/utf8_stream.h"

#include <cstdint>

namespace amulet {

namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

// Length of the sequence a lead byte starts (0: not a lead byte).
size_t sequence_length(uint8_t lead) {
    if (lead < 0x80) return 1;
    if (lead >= 0xC2 && lead <= 0xDF) return 2;
    if (lead >= 0xE0 && lead <= 0xEF) return 3;
    if (lead >= 0xF0 && lead <= 0xF4) return 4;
    return 0;
}

// Whether byte `index` (1-based within the sequence) may follow `lead`; the
// second byte's range also rules out overlongs, surrogates and > U+10FFFF.
bool valid_continuation(uint8_t lead, size_t index, uint8_t byte) {
    if (index == 1) {
        if (lead == 0xE0) return byte >= 0xA0 && byte <= 0xBF;
        if (lead == 0xED) return byte >= 0x80 && byte <= 0x9F;
        if (lead == 0xF0) return byte >= 0x90 && byte <= 0xBF;
        if (lead == 0xF4) return byte >= 0x80 && byte <= 0x8F;
    }
    return byte >= 0x80 && byte <= 0xBF;
}

}  // namespace

std::string Utf8Stream::push(std::string_view bytes) {
    pending_.append(bytes);
    std::string out;
    size_t i = 0;
    while (i < pending_.size()) {
        const auto lead = static_cast<uint8_t>(pending_[i]);
        const size_t length = sequence_length(lead);
        if (length == 0) {
            out.append(kReplacement);
            ++i;
            continue;
        }
        size_t k = 1;
        while (k < length && i + k < pending_.size() &&
               valid_continuation(lead, k, static_cast<uint8_t>(pending_[i + k]))) {
            ++k;
        }
        if (k == length) {
            out.append(pending_, i, length);
            i += length;
        } else if (i + k == pending_.size()) {
            break;  // an incomplete character at the end: wait for more bytes
        } else {
            out.append(kReplacement);  // a broken sequence: replace it and resume at the offending byte
            i += k;
        }
    }
    pending_.erase(0, i);
    return out;
}

std::string Utf8Stream::finish() {
    std::string out = pending_.empty() ? std::string() : std::string(kReplacement);
    pending_.clear();
    return out;
}

}  // namespace amulet
