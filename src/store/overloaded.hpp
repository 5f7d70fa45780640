// Overloaded: a visitor built from lambdas, for std::visit over the store's operations.
#pragma once

namespace outpost::store::detail {

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

}  // namespace outpost::store::detail
