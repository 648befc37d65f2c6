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
// write dirty ones back (on key switch or checkpoint) through the per-state codec of the
// StateDescriptor.
//
// Checkpoints: a job that checkpoints saves every key's state values as bytes, through
// StateSerializer<T> (below). It is built in for bool, integers, floating point, enums,
// std::string, Timestamp, Interval, and std::optional / pair / tuple / vector / deque / set
// / map / unordered_set / unordered_map of serializable types. For your own types specialize
// it (before the first ctx.state<T>() of that type):
//
//   template <>
//   struct sluice::api::StateSerializer<Stats> {
//     static void write(ByteWriter& out, const Stats& v) { out.i64(v.count); out.f64(v.sum); }
//     static Stats read(ByteReader& in) { Stats v; v.count = in.i64(); v.sum = in.f64(); return v; }
//   };
//
// ByteWriter / ByteReader are common/serde.h; read() signals bad input with in.fail() (a
// short read fails the reader by itself) and the restore then fails with a kDataLoss
// Status. A state whose type has no serializer works as before in a job without
// checkpoints; a checkpoint of it fails with an kUnsupported Status naming the state. A
// restored value is decoded when the function first reads that state, and the C++ type it
// is read as must be the one it was saved as (checked by type name).
//
// Threads: a backend belongs to one operator instance and is used by its task's thread only.
#pragma once

#include <any>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <typeindex>
#include <typeinfo>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "common/assert.h"
#include "common/serde.h"
#include "sluice/expression.h"

namespace sluice::api {

using sluice::ByteReader;
using sluice::ByteWriter;

// ---- Serializing state values (see "Checkpoints" above)

// Specialize for a type T with
//   static void write(ByteWriter&, const T&);
//   static T read(ByteReader&);
// The primary template has neither: T is then not serializable.
template <typename T>
struct StateSerializer {};

template <typename T>
concept SerializableState = requires(ByteWriter& out, ByteReader& in, const T& value) {
  { StateSerializer<T>::write(out, value) };
  { StateSerializer<T>::read(in) } -> std::convertible_to<T>;
};

template <>
struct StateSerializer<bool> {
  static void write(ByteWriter& out, bool v) { out.u8(v ? 1 : 0); }
  static bool read(ByteReader& in) {
    uint8_t b = in.u8();
    if (b > 1) in.fail();
    return b == 1;
  }
};

template <typename T>
  requires(std::is_integral_v<T> && !std::is_same_v<T, bool>)
struct StateSerializer<T> {
  static void write(ByteWriter& out, T v) {
    if constexpr (std::is_signed_v<T>) {
      out.i64(static_cast<int64_t>(v));
    } else {
      out.u64(static_cast<uint64_t>(v));
    }
  }
  static T read(ByteReader& in) {
    if constexpr (std::is_signed_v<T>) {
      int64_t v = in.i64();
      if (v < static_cast<int64_t>(std::numeric_limits<T>::min()) || v > static_cast<int64_t>(std::numeric_limits<T>::max())) {
        in.fail();
      }
      return static_cast<T>(v);
    } else {
      uint64_t v = in.u64();
      if (v > static_cast<uint64_t>(std::numeric_limits<T>::max())) in.fail();
      return static_cast<T>(v);
    }
  }
};

template <std::floating_point T>
struct StateSerializer<T> {
  static void write(ByteWriter& out, T v) { out.f64(static_cast<double>(v)); }
  static T read(ByteReader& in) { return static_cast<T>(in.f64()); }
};

template <typename T>
  requires std::is_enum_v<T>
struct StateSerializer<T> {
  using Underlying = std::underlying_type_t<T>;
  static void write(ByteWriter& out, T v) { StateSerializer<Underlying>::write(out, static_cast<Underlying>(v)); }
  static T read(ByteReader& in) { return static_cast<T>(StateSerializer<Underlying>::read(in)); }
};

template <>
struct StateSerializer<std::string> {
  static void write(ByteWriter& out, const std::string& v) { out.str(v); }
  static std::string read(ByteReader& in) { return std::string(in.str()); }
};

template <>
struct StateSerializer<Timestamp> {
  static void write(ByteWriter& out, const Timestamp& v) { out.i64(v.micros); }
  static Timestamp read(ByteReader& in) { return Timestamp{in.i64()}; }
};

template <>
struct StateSerializer<Interval> {
  static void write(ByteWriter& out, const Interval& v) { out.i64(v.micros); }
  static Interval read(ByteReader& in) { return Interval{in.i64()}; }
};

template <SerializableState T>
struct StateSerializer<std::optional<T>> {
  static void write(ByteWriter& out, const std::optional<T>& v) {
    out.u8(v.has_value() ? 1 : 0);
    if (v) StateSerializer<T>::write(out, *v);
  }
  static std::optional<T> read(ByteReader& in) {
    uint8_t has = in.u8();
    if (has > 1) in.fail();
    if (has != 1 || !in.ok()) return std::nullopt;
    return StateSerializer<T>::read(in);
  }
};

template <SerializableState A, SerializableState B>
struct StateSerializer<std::pair<A, B>> {
  static void write(ByteWriter& out, const std::pair<A, B>& v) {
    StateSerializer<A>::write(out, v.first);
    StateSerializer<B>::write(out, v.second);
  }
  static std::pair<A, B> read(ByteReader& in) {
    A a = StateSerializer<A>::read(in);  // sequenced: the first element is read first
    B b = StateSerializer<B>::read(in);
    return std::pair<A, B>(std::move(a), std::move(b));
  }
};

template <SerializableState... Ts>
struct StateSerializer<std::tuple<Ts...>> {
  static void write(ByteWriter& out, const std::tuple<Ts...>& v) {
    std::apply([&](const Ts&... e) { (StateSerializer<Ts>::write(out, e), ...); }, v);
  }
  static std::tuple<Ts...> read(ByteReader& in) {
    return std::tuple<Ts...>{StateSerializer<Ts>::read(in)...};  // braced: left to right
  }
};

namespace internal {
// Containers: varint element count, then the elements (a corrupt count cannot drive a large
// allocation: every element takes at least one byte).
template <typename Container, typename Element>
struct SequenceSerializer {
  static void write(ByteWriter& out, const Container& v) {
    out.varint(v.size());
    for (const auto& e : v) StateSerializer<Element>::write(out, e);
  }
  static Container read(ByteReader& in) {
    Container c;
    const uint64_t n = in.count(1);
    for (uint64_t i = 0; i < n && in.ok(); ++i) {
      if constexpr (requires { c.push_back(StateSerializer<Element>::read(in)); }) {
        c.push_back(StateSerializer<Element>::read(in));
      } else {
        c.insert(StateSerializer<Element>::read(in));
      }
    }
    return c;
  }
};
template <typename Map, typename K, typename V>
struct MapSerializer {
  static void write(ByteWriter& out, const Map& m) {
    out.varint(m.size());
    for (const auto& [k, v] : m) {
      StateSerializer<K>::write(out, k);
      StateSerializer<V>::write(out, v);
    }
  }
  static Map read(ByteReader& in) {
    Map m;
    const uint64_t n = in.count(2);
    for (uint64_t i = 0; i < n && in.ok(); ++i) {
      K k = StateSerializer<K>::read(in);
      V v = StateSerializer<V>::read(in);
      m.insert_or_assign(std::move(k), std::move(v));
    }
    return m;
  }
};
}  // namespace internal

template <SerializableState T, typename A>
struct StateSerializer<std::vector<T, A>> : internal::SequenceSerializer<std::vector<T, A>, T> {};
template <SerializableState T, typename A>
struct StateSerializer<std::deque<T, A>> : internal::SequenceSerializer<std::deque<T, A>, T> {};
template <SerializableState T, typename C, typename A>
struct StateSerializer<std::set<T, C, A>> : internal::SequenceSerializer<std::set<T, C, A>, T> {};
template <SerializableState T, typename H, typename E, typename A>
struct StateSerializer<std::unordered_set<T, H, E, A>> : internal::SequenceSerializer<std::unordered_set<T, H, E, A>, T> {};
template <SerializableState K, SerializableState V, typename C, typename A>
struct StateSerializer<std::map<K, V, C, A>> : internal::MapSerializer<std::map<K, V, C, A>, K, V> {};
template <SerializableState K, SerializableState V, typename H, typename E, typename A>
struct StateSerializer<std::unordered_map<K, V, H, E, A>>
    : internal::MapSerializer<std::unordered_map<K, V, H, E, A>, K, V> {};

// The type-erased serializer of one state (held by its StateDescriptor).
struct StateCodec {
  // typeid(T).name(): saved with every value and checked when it is restored.
  const char* type_name = "";
  void (*write)(ByteWriter& out, const std::any& value) = nullptr;  // value holds a T
  void (*read)(ByteReader& in, std::any& value) = nullptr;          // emplaces a T
};

// The codec of T, or nullptr when T has no StateSerializer.
template <typename T>
const StateCodec* state_codec() {
  if constexpr (SerializableState<T>) {
    static const StateCodec codec{
        typeid(T).name(),
        [](ByteWriter& out, const std::any& value) { StateSerializer<T>::write(out, *std::any_cast<T>(&value)); },
        [](ByteReader& in, std::any& value) { value.template emplace<T>(StateSerializer<T>::read(in)); }};
    return &codec;
  } else {
    return nullptr;
  }
}

// A named state of a process function. `id` is dense (0, 1, ...) per operator instance.
struct StateDescriptor {
  int id = -1;
  std::string name;
  std::type_index type = typeid(void);
  const StateCodec* codec = nullptr;  // null: the type cannot be checkpointed
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
