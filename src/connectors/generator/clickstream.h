// Clickstream: the deterministic synthetic web-shop event stream behind the generator source.
//
// Event number i (the "global index", 0, 1, 2, ...) is a PURE FUNCTION of (seed, i): no
// state carries over from one event to the next. That is what makes the generator's
// guarantees hold: the same seed gives byte-identical output on every run and machine, and
// any split of the indices among readers (split k takes i % splits == k) yields the same
// union of events. Randomness comes from splitmix64 keyed by (seed, what, index) with our
// own integer uniform/bernoulli math (std:: distributions are implementation-defined), and
// every number is formatted with integer arithmetic (no floating-point printing).
//
// How plausible behaviour arises from a pure function of i:
//  - Event time: nominal time start + i * interval, then optionally moved back (disorder).
//  - Concurrency: index i belongs to lane i % L (L = clamp(users / 4, 1, 64) concurrent
//    visitors); each lane's events are grouped into slots of 32 consecutive lane events,
//    and each slot holds two sessions of 6..26 events (a cut point drawn per slot). So a
//    session is a run of events L * interval apart. Each user belongs to one lane, so a
//    user's sessions never overlap and are separated by inactivity gaps (the sessions of
//    the lane's other users in between).
//  - Sessions: each draws its user (skewed: some users are more active), a product of
//    interest (skewed: popular products), a device (the user's usual device 80% of the time)
//    and how far down the funnel it gets: home -> product (75%) -> add to cart (40%) ->
//    checkout (60%) -> purchase (70%), with the steps at which each stage is reached.
//    A session too short to reach a stage drops off there. Between stages the visitor
//    browses (/search, /home, other products, the cart) with views and clicks; a few
//    events are app keep-alive pings to /health.
//  - Users have a fixed home country (weighted like a US/EU-heavy shop) and usual device.
//  - Purchases carry amount = product price (x.99, fixed per product) * quantity (1-3).
//
// Output, one JSON object per line, fields in this order:
//   {"user_id":17,"page":"/product/42","ts":"2024-01-01T00:00:00.010Z","event_type":"click",
//    "device":"mobile","country":"US","session_id":123,"amount":null}
// user_id in [1, users]; page one of "/", "/home", "/search", "/product/<1..pages>", "/cart",
// "/checkout", "/health"; event_type "view" | "click" | "add_to_cart" | "purchase"; device
// "mobile" | "desktop" | "tablet"; session_id > 0 unique per session; amount a number for
// purchases, else null. ts as ISO-8601 text (millisecond, or microsecond when needed,
// precision) or, with epoch_ms, an integer of milliseconds since the epoch.
//
// Immutable after construction: write() is const and may be called from many threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/time_util.h"

namespace sluice {

struct ClickstreamConfig {
  uint64_t seed = 42;
  Micros start = 0;                    // event time of event 0
  Micros interval = 10 * kMicrosPerMilli;  // nominal event-time step between events
  // Fractions of events: moved back by (0, max_out_of_orderness]; moved back by
  // [2, 10] x max_out_of_orderness ("late"); emitted broken. out_of_order + late <= 1.
  double out_of_order = 0;
  double late = 0;
  double malformed = 0;
  Micros max_out_of_orderness = 5 * kMicrosPerSecond;
  int64_t users = 1000;
  int64_t pages = 100;
  bool epoch_millis = false;  // ts as integer milliseconds instead of ISO text
};

class Clickstream {
 public:
  // An upper bound on one event's size (a test checks it against long ids/timestamps).
  static constexpr size_t kMaxEventBytes = 320;

  // What a session decided up front (user, product, device, how far down the funnel).
  struct Session {
    uint64_t user;
    uint64_t product;  // the product the visitor is interested in
    uint64_t quantity;
    std::string_view device;
    std::string_view country;
    uint64_t reach[5];  // step at which funnel stage k is reached (~0 if it is not)
  };

  // The civil date of the last day formatted (civil_from_days is not free).
  struct DayMemo {
    int64_t day = INT64_MIN;
    int64_t year = 0;
    unsigned month = 0, mday = 0;
  };

  // A reader's memo of each lane's current session and of the current day. Purely a
  // speed-up: write() returns the same bytes with or without it. One per reader (not
  // thread-safe).
  class Cache {
   public:
    Cache();

   private:
    friend class Clickstream;
    // Direct-mapped by session id: the (up to 64) lanes' current sessions of both halves
    // of a slot map to distinct entries.
    static constexpr size_t kEntries = 128;
    uint64_t ids_[kEntries];
    Session sessions_[kEntries];
    DayMemo day_;
  };

  explicit Clickstream(const ClickstreamConfig& config);

  // Writes event `index` (without newline) to out[0, kMaxEventBytes); returns its length.
  size_t write(uint64_t index, char* out, Cache* cache = nullptr) const;

  // Event time of `index` before disorder: start + index * interval.
  Micros nominal_time(uint64_t index) const {
    return config_.start + static_cast<Micros>(index) * config_.interval;
  }
  const ClickstreamConfig& config() const { return config_; }

 private:
  Session session(uint64_t session_id) const;

  ClickstreamConfig config_;
  // Keys of the independent random streams (per event, slot, session, user, product),
  // derived from the seed once.
  uint64_t event_key_, slot_key_, session_key_, user_key_, product_key_;
  uint64_t lanes_;
  // Bernoulli thresholds: event is chosen when a uniform 64-bit draw is below them.
  uint64_t malformed_threshold_;
  uint64_t late_threshold_;
  uint64_t disorder_threshold_;  // late + out_of_order
  Micros disorder_unit_;         // 1 ms when max_out_of_orderness is whole ms, else 1 us
  uint64_t max_disorder_units_;
};

}  // namespace sluice
