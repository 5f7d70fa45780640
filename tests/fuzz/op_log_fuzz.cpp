// Fuzz target: the store's operation log reader (src/store/op_log.cpp), which reads a
// file a crash, a power cut or a damaged disk may have left in any state.
//
// Input: the file's bytes.
//
// Invariants beyond "no crash, no UB, no leak": the whole records read end where the next
// part begins (valid_bytes within the file); an input that is neither torn nor damaged was
// read to its end or to an end marker (8 zero bytes: what follows is a log rewritten in
// place's older records); damage is described; sequence numbers rise; and each record read,
// written again, reads back as the same operations.
#include "fuzz_check.hpp"
#include "store/op_log.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace outpost::store::detail;
  const LogContents c = decode_log(std::span<const std::uint8_t>(data, size));
  FUZZ_CHECK(c.file_bytes == size, "the file's size is reported");
  FUZZ_CHECK(c.valid_bytes <= size, "whole records lie within the file");
  FUZZ_CHECK(!(c.torn && !c.damage.empty()), "torn or damaged, not both");
  if (!c.torn && c.damage.empty() && c.valid_bytes != size) {
    FUZZ_CHECK(size - c.valid_bytes >= 8, "a sound log is read to its end or to an end marker");
    for (std::size_t i = 0; i < 8; ++i) FUZZ_CHECK(data[c.valid_bytes + i] == 0, "the end marker is 8 zero bytes");
  }
  std::uint64_t last = 0;
  std::vector<std::uint8_t> again;
  for (const auto& rec : c.records) {
    FUZZ_CHECK(rec.seq > last, "sequence numbers rise");
    last = rec.seq;
    encode_log_record(again, rec.seq, rec.ops);
  }
  const LogContents back = decode_log(again);
  FUZZ_CHECK(back.damage.empty() && !back.torn, "records written again read back whole");
  FUZZ_CHECK(back.records.size() == c.records.size(), "as many records");
  for (std::size_t i = 0; i < back.records.size(); ++i) {
    FUZZ_CHECK(back.records[i].ops.size() == c.records[i].ops.size(), "as many operations");
    for (std::size_t j = 0; j < back.records[i].ops.size(); ++j) {
      FUZZ_CHECK(back.records[i].ops[j].v.index() == c.records[i].ops[j].v.index(), "the same operations");
    }
  }
  return 0;
}
