// UTF-8 as MQTT requires it [MQTT-1.5.3-1, MQTT-1.5.3-2]: well formed (no overlong
// forms, no surrogates U+D800..U+DFFF, nothing above U+10FFFF) and without U+0000.
// Pure; any thread may call it.
#pragma once

#include <string_view>

namespace outpost::mqtt {

bool valid_utf8(std::string_view s) noexcept;

}  // namespace outpost::mqtt
