#include "amqp/codec/content.hpp"

#include "amqp/codec/frame.hpp"
#include "amqp/codec/wire.hpp"

namespace outpost::amqp {

Error decode_content_header(std::span<const std::uint8_t> payload, ContentHeader& out) {
  Reader r(payload);
  out.class_id = r.u16();
  r.u16();  // weight: unused, must be zero
  out.body_size = r.u64();
  auto& p = out.properties;
  p.flags = r.u16();
  if (!r.ok()) return Error{frame_error, "truncated content header"};
  if (p.flags & 1) return Error{frame_error, "content header with more than one property-flags word"};
  if (p.has(prop::content_type)) p.content_type = r.shortstr();
  if (p.has(prop::content_encoding)) p.content_encoding = r.shortstr();
  if (p.has(prop::headers)) {
    const auto body = r.bytes(r.u32());
    if (!r.ok() || !decode_table_body(body, p.headers)) return Error{frame_error, "malformed headers table"};
    out.headers_raw = body;
  }
  if (p.has(prop::delivery_mode)) p.delivery_mode = r.u8();
  if (p.has(prop::priority)) p.priority = r.u8();
  if (p.has(prop::correlation_id)) p.correlation_id = r.shortstr();
  if (p.has(prop::reply_to)) p.reply_to = r.shortstr();
  if (p.has(prop::expiration)) p.expiration = r.shortstr();
  if (p.has(prop::message_id)) p.message_id = r.shortstr();
  if (p.has(prop::timestamp)) p.timestamp = r.u64();
  if (p.has(prop::type)) p.type = r.shortstr();
  if (p.has(prop::user_id)) p.user_id = r.shortstr();
  if (p.has(prop::app_id)) p.app_id = r.shortstr();
  if (p.has(prop::cluster_id)) p.cluster_id = r.shortstr();
  if (!r.ok()) return Error{frame_error, "truncated content header properties"};
  return {};
}

void encode_content_header(std::vector<std::uint8_t>& out, std::uint16_t channel, std::uint16_t class_id,
                           std::uint64_t body_size, const BasicProperties& p,
                           std::span<const std::uint8_t> headers_raw) {
  const auto start = out.size();
  write_frame_header(out, FrameType::header, channel, 0);
  Writer w(out);
  w.u16(class_id);
  w.u16(0);
  w.u64(body_size);
  w.u16(static_cast<std::uint16_t>(p.flags & ~1u));
  if (p.has(prop::content_type)) w.shortstr(p.content_type);
  if (p.has(prop::content_encoding)) w.shortstr(p.content_encoding);
  if (p.has(prop::headers)) {
    if (!headers_raw.empty()) {
      w.u32(static_cast<std::uint32_t>(headers_raw.size()));
      w.bytes(headers_raw);
    } else {
      write_table(w, p.headers);
    }
  }
  if (p.has(prop::delivery_mode)) w.u8(p.delivery_mode);
  if (p.has(prop::priority)) w.u8(p.priority);
  if (p.has(prop::correlation_id)) w.shortstr(p.correlation_id);
  if (p.has(prop::reply_to)) w.shortstr(p.reply_to);
  if (p.has(prop::expiration)) w.shortstr(p.expiration);
  if (p.has(prop::message_id)) w.shortstr(p.message_id);
  if (p.has(prop::timestamp)) w.u64(p.timestamp);
  if (p.has(prop::type)) w.shortstr(p.type);
  if (p.has(prop::user_id)) w.shortstr(p.user_id);
  if (p.has(prop::app_id)) w.shortstr(p.app_id);
  if (p.has(prop::cluster_id)) w.shortstr(p.cluster_id);
  w.patch_u32(start + 3, static_cast<std::uint32_t>(out.size() - start - 7));
  out.push_back(kFrameEnd);
}

}  // namespace outpost::amqp
