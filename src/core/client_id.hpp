// ClientId: a client identifier, immutable and shared by reference count. The connection
// that holds a session, the session state and the registry's entry for it all name the
// same client; with a ClientId they keep one heap copy of the id between them (8 bytes
// each) instead of a std::string (32 bytes, plus a heap copy past 15 characters) apiece.
//
// Threading: copies may be made and dropped on any thread (the count is atomic); the
// characters never change after construction.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <new>
#include <string>
#include <string_view>
#include <utility>

namespace outpost::core {

class ClientId {
 public:
  ClientId() noexcept = default;
  explicit ClientId(std::string_view id) {
    if (id.empty()) return;  // the empty id needs no block
    void* raw = ::operator new(sizeof(Rep) + id.size());
    rep_ = new (raw) Rep{};
    rep_->size = static_cast<std::uint32_t>(id.size());
    std::memcpy(rep_->chars(), id.data(), id.size());
  }
  ClientId(const ClientId& other) noexcept : rep_(other.rep_) {
    if (rep_) rep_->refs.fetch_add(1, std::memory_order_relaxed);
  }
  ClientId(ClientId&& other) noexcept : rep_(std::exchange(other.rep_, nullptr)) {}
  ClientId& operator=(ClientId other) noexcept {
    std::swap(rep_, other.rep_);
    return *this;
  }
  ~ClientId() {
    if (rep_ && rep_->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      rep_->~Rep();
      ::operator delete(rep_);
    }
  }

  std::string_view view() const noexcept { return rep_ ? std::string_view(rep_->chars(), rep_->size) : std::string_view(); }
  operator std::string_view() const noexcept { return view(); }  // NOLINT: reads as the string it is
  std::string str() const { return std::string(view()); }
  bool empty() const noexcept { return rep_ == nullptr; }
  std::size_t size() const noexcept { return rep_ ? rep_->size : 0; }

  friend bool operator==(const ClientId& a, const ClientId& b) noexcept { return a.rep_ == b.rep_ || a.view() == b.view(); }
  friend bool operator==(const ClientId& a, std::string_view b) noexcept { return a.view() == b; }

 private:
  struct Rep {
    std::atomic<std::uint32_t> refs{1};
    std::uint32_t size = 0;
    char* chars() noexcept { return reinterpret_cast<char*>(this + 1); }
  };
  Rep* rep_ = nullptr;
};

// Hash and equality for containers keyed by ClientId that are searched with a string_view.
struct ClientIdHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view id) const noexcept { return std::hash<std::string_view>{}(id); }
  std::size_t operator()(const ClientId& id) const noexcept { return (*this)(id.view()); }
};
struct ClientIdEqual {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const noexcept { return a == b; }
  bool operator()(const ClientId& a, const ClientId& b) const noexcept { return a == b; }
  bool operator()(const ClientId& a, std::string_view b) const noexcept { return a.view() == b; }
  bool operator()(std::string_view a, const ClientId& b) const noexcept { return a == b.view(); }
};

}  // namespace outpost::core
