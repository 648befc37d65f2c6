// Keyed state for process functions: a value per (state name, key), scoped to the key of
// the row or timer being processed.
//
// KeyedStateBackend is the storage interface. The operator sets the current key (the key
// columns encoded as bytes, see ProcessOperator) before every call into user code; state
// accessors then read and write that key's values. Today there is one backend, in memory
// (a hash map from encoded key to a small vector of values, one per registered state).
// The interface is shaped so that a RocksDB backend can follow: values are addressed by
// (state id, current key) only, every access goes through find/get_or_create/erase, and the
// backend owns the storage; a persistent backend would keep decoded values in a cache and
// write dirty ones back (on key switch or checkpoint) through a per-state codec registered
// with the StateDescriptor.
//
// Threads: a backend belongs to one operator instance and is used by its task's thread only.
#pragma once

#include <any>
#include <cstddef>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeindex>
#include <utility>

#include "common/assert.h"

namespace sluice::api {

// A named state of a process function. `id` is dense (0, 1, ...) per operator instance.
struct StateDescriptor {
  int id = -1;
  std::string name;
  std::type_index type = typeid(void);
};

class KeyedStateBackend {
 public:
  virtual ~KeyedStateBackend() = default;
  // Caller must set the key before any other call and keep the bytes alive until the next
  // set_current_key (the backend copies them only when it stores a new key).
  virtual void set_current_key(std::string_view encoded_key) = 0;
  // The current key's value of state `state_id`, or nullptr when it has none.
  virtual std::any* find(int state_id) = 0;
  // The current key's value slot of `state_id`, created empty (no value) when missing.
  virtual std::any& get_or_create(int state_id) = 0;
  // Removes the current key's value of `state_id` (no-op when absent).
  virtual void erase(int state_id) = 0;
  // Number of (key, state) values held: for metrics and tests.
  virtual size_t num_values() const = 0;
};

// Values a ValueState may hold.
template <typename T>
concept StateValue = std::is_object_v<T> && std::copy_constructible<T> && !std::is_pointer_v<T> &&
                     !std::is_const_v<T>;

// The value of one named state for the current key. A small handle: get it from
// ProcessContext::state<T>(name) in each call; do not keep it across calls (the current
// key changes between calls).
template <typename T>
class ValueState {
  static_assert(StateValue<T>,
                "ValueState<T>: T must be a copyable, non-const value type (not a pointer or reference): "
                "state outlives the call and will be snapshotted by checkpoints");

 public:
  ValueState(KeyedStateBackend* backend, const StateDescriptor* descriptor) : backend_(backend), descriptor_(descriptor) {}

  bool has_value() const { return get() != nullptr; }
  // The value, or nullptr when this key has none. Valid until the next state update.
  const T* get() const {
    std::any* a = backend_->find(descriptor_->id);
    if (a == nullptr || !a->has_value()) return nullptr;
    const T* v = std::any_cast<T>(a);
    SLUICE_ASSERT(v != nullptr, "state '{}' holds a different type", descriptor_->name);
    return v;
  }
  T value_or(T fallback) const {
    const T* v = get();
    return v ? *v : std::move(fallback);
  }
  // Mutable access, creating a value-initialized T when this key has none.
  T& get_or_create()
    requires std::default_initializable<T>
  {
    std::any& a = backend_->get_or_create(descriptor_->id);
    if (!a.has_value()) a.template emplace<T>();
    T* v = std::any_cast<T>(&a);
    SLUICE_ASSERT(v != nullptr, "state '{}' holds a different type", descriptor_->name);
    return *v;
  }
  void update(T value) { backend_->get_or_create(descriptor_->id) = std::move(value); }
  void clear() { backend_->erase(descriptor_->id); }

 private:
  KeyedStateBackend* backend_;
  const StateDescriptor* descriptor_;
};

}  // namespace sluice::api
