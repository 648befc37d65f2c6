#include "connectors/generator/clickstream.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "common/assert.h"
#include "common/hash.h"

namespace sluice {
namespace {

constexpr uint64_t kGolden = 0x9e3779b97f4a7c15ULL;
constexpr uint64_t kSlotEvents = 32;  // lane events per slot; a slot holds two sessions
constexpr uint64_t kMinSessionEvents = 6;
// Popularity skew (see Rng::skewed): top users are ~3x, top products ~10x the average.
constexpr uint64_t kUserSkewPercent = 25;
constexpr uint64_t kProductSkewPercent = 50;

// Independent random streams: each (seed, domain) pair keys its own hash family.
enum Domain : uint64_t { kEventDomain = 1, kSlotDomain, kSessionDomain, kUserDomain, kProductDomain };

uint64_t domain_key(uint64_t seed, Domain d) { return hash_int(hash_int(seed) + d * kGolden); }
uint64_t key(uint64_t domain, uint64_t id) { return hash_int(domain ^ hash_int(id)); }

// splitmix64: a fixed, portable sequence; the math on top is ours, so results never depend
// on the standard library.
class Rng {
 public:
  explicit Rng(uint64_t key) : state_(key) {}
  uint64_t next() {
    uint64_t z = (state_ += kGolden);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n), n > 0 (multiply-shift; bias below n / 2^64).
  uint64_t below(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(next()) * n) >> 64);
  }
  bool percent(uint64_t p) { return below(100) < p; }
  // In [0, n), favouring small values: `percent` of the draws are a product of two
  // uniforms (density ~ -ln x), the rest uniform, so a few users/products are more popular.
  uint64_t skewed(uint64_t n, uint64_t percent) {
    uint64_t a = below(n);
    uint64_t b = below(n);
    if (below(100) >= percent) return a;
    if (n <= (uint64_t{1} << 32)) return a * b / n;  // fits: avoid a 128-bit division
    return static_cast<uint64_t>(static_cast<unsigned __int128>(a) * b / n);
  }

 private:
  uint64_t state_;
};

struct Weighted {
  std::string_view name;
  uint64_t weight;  // percent; a table sums to 100
};
constexpr Weighted kCountries[] = {{"US", 30}, {"DE", 10}, {"GB", 9}, {"IN", 8}, {"FR", 7},
                                   {"BR", 6},  {"JP", 5},  {"CA", 5}, {"NL", 4}, {"ES", 4},
                                   {"IT", 3},  {"AU", 3},  {"MX", 2}, {"SE", 2}, {"PL", 2}};
constexpr Weighted kDevices[] = {{"mobile", 55}, {"desktop", 35}, {"tablet", 10}};

template <size_t N>
std::string_view pick(Rng& r, const Weighted (&table)[N]) {
  uint64_t x = r.below(100);
  for (const auto& w : table) {
    if (x < w.weight) return w.name;
    x -= w.weight;
  }
  return table[N - 1].name;
}

// Funnel: chance (percent) of going on to stage k from stage k-1, and the most steps
// (beyond one) spent browsing before reaching it.
constexpr uint64_t kContinuePercent[5] = {0, 75, 40, 60, 70};
constexpr uint64_t kExtraSteps[5] = {0, 3, 4, 3, 2};
constexpr uint64_t kNever = ~uint64_t{0};

enum class PageKind : uint8_t { kRoot, kHome, kSearch, kProduct, kCart, kCheckout, kHealth };
enum class EventType : uint8_t { kView, kClick, kAddToCart, kPurchase };

constexpr std::string_view kEventTypeNames[] = {"view", "click", "add_to_cart", "purchase"};

uint64_t bernoulli_threshold(double p) {
  if (p <= 0) return 0;
  if (p >= 1) return ~uint64_t{0};
  return static_cast<uint64_t>(p * 18446744073709551616.0);  // exact IEEE product: portable
}

// Appends text at a raw cursor; the caller guarantees room (Clickstream::kMaxEventBytes).
class Writer {
 public:
  explicit Writer(char* p) : begin_(p), p_(p) {}
  void str(std::string_view s) {
    std::memcpy(p_, s.data(), s.size());
    p_ += s.size();
  }
  void ch(char c) { *p_++ = c; }
  void u64(uint64_t v) {
    fmt::format_int f(v);
    str(std::string_view(f.data(), f.size()));
  }
  void i64(int64_t v) {
    fmt::format_int f(v);
    str(std::string_view(f.data(), f.size()));
  }
  // Exactly `width` digits, zero padded (v < 10^width).
  void fixed(uint64_t v, int width) {
    for (int k = width - 1; k >= 0; --k) {
      p_[k] = static_cast<char>('0' + v % 10);
      v /= 10;
    }
    p_ += width;
  }
  // "2024-01-01T00:00:00.010Z"; microseconds only when the value has them.
  void iso_timestamp(Micros ts, Clickstream::DayMemo& memo) {
    int64_t days = floor_div(ts, kMicrosPerDay);
    int64_t rem = ts - days * kMicrosPerDay;
    if (days != memo.day) {
      civil_from_days(days, &memo.year, &memo.month, &memo.mday);
      memo.day = days;
    }
    const int64_t y = memo.year;
    const unsigned m = memo.month, d = memo.mday;
    int64_t secs = rem / kMicrosPerSecond;
    int64_t us = rem % kMicrosPerSecond;
    fixed(static_cast<uint64_t>(y), 4);
    ch('-');
    fixed(m, 2);
    ch('-');
    fixed(d, 2);
    ch('T');
    fixed(static_cast<uint64_t>(secs / 3600), 2);
    ch(':');
    fixed(static_cast<uint64_t>(secs / 60 % 60), 2);
    ch(':');
    fixed(static_cast<uint64_t>(secs % 60), 2);
    ch('.');
    if (us % 1000 == 0) {
      fixed(static_cast<uint64_t>(us / 1000), 3);
    } else {
      fixed(static_cast<uint64_t>(us), 6);
    }
    ch('Z');
  }
  void cents(uint64_t c) {
    u64(c / 100);
    ch('.');
    fixed(c % 100, 2);
  }
  size_t size() const { return static_cast<size_t>(p_ - begin_); }

 private:
  char* begin_;
  char* p_;
};

struct Page {
  PageKind kind = PageKind::kRoot;
  uint64_t product = 0;
};

void write_page(Writer& w, const Page& p) {
  switch (p.kind) {
    case PageKind::kRoot: w.ch('/'); break;
    case PageKind::kHome: w.str("/home"); break;
    case PageKind::kSearch: w.str("/search"); break;
    case PageKind::kProduct:
      w.str("/product/");
      w.u64(p.product);
      break;
    case PageKind::kCart: w.str("/cart"); break;
    case PageKind::kCheckout: w.str("/checkout"); break;
    case PageKind::kHealth: w.str("/health"); break;
  }
}

enum class Malformation : uint8_t { kNone, kTruncated, kNotJson, kBadUserId, kBadTimestamp };

}  // namespace

Clickstream::Cache::Cache() {
  for (uint64_t& id : ids_) id = 0;  // session ids start at 1
}

Clickstream::Clickstream(const ClickstreamConfig& config)
    : config_(config),
      event_key_(domain_key(config.seed, kEventDomain)),
      slot_key_(domain_key(config.seed, kSlotDomain)),
      session_key_(domain_key(config.seed, kSessionDomain)),
      user_key_(domain_key(config.seed, kUserDomain)),
      product_key_(domain_key(config.seed, kProductDomain)) {
  lanes_ = static_cast<uint64_t>(std::clamp<int64_t>(config_.users / 4, 1, 64));
  malformed_threshold_ = bernoulli_threshold(config_.malformed);
  late_threshold_ = bernoulli_threshold(config_.late);
  disorder_threshold_ = bernoulli_threshold(config_.late + config_.out_of_order);
  disorder_unit_ = config_.max_out_of_orderness % kMicrosPerMilli == 0 ? kMicrosPerMilli : 1;
  max_disorder_units_ = static_cast<uint64_t>(std::max<Micros>(config_.max_out_of_orderness / disorder_unit_, 0));
  if (max_disorder_units_ == 0) late_threshold_ = disorder_threshold_ = 0;  // nothing to move by
}

Clickstream::Session Clickstream::session(uint64_t session_id) const {
  Rng r(key(session_key_, session_id));
  Session s{};
  // Users live in one lane each (user u in lane (u - 1) % lanes), so one user's sessions
  // never overlap. The lane's sessions alternate between the two halves of its users, so
  // consecutive sessions have different users: a user's next session comes after a gap.
  const uint64_t users = static_cast<uint64_t>(config_.users);
  const uint64_t lane = ((session_id - 1) / 2) % lanes_;
  const uint64_t second = (session_id - 1) % 2;
  const uint64_t lane_users = (users - 1 - lane) / lanes_ + 1;
  uint64_t first_user = 0, candidates = lane_users;
  if (lane_users >= 2) {
    first_user = second ? lane_users / 2 : 0;
    candidates = second ? lane_users - lane_users / 2 : lane_users / 2;
  }
  s.user = 1 + lane + lanes_ * (first_user + r.skewed(candidates, kUserSkewPercent));
  s.product = 1 + r.skewed(static_cast<uint64_t>(config_.pages), kProductSkewPercent);
  s.quantity = r.percent(75) ? 1 : 2 + r.below(2);
  bool other_device = r.percent(20);
  std::string_view session_device = pick(r, kDevices);
  uint64_t step = 0;
  bool going = true;
  s.reach[0] = 0;
  for (int k = 1; k <= 4; ++k) {
    step += 1 + r.below(kExtraSteps[k] + 1);
    going = going && r.percent(kContinuePercent[k]);
    s.reach[k] = going ? step : kNever;
  }
  Rng u(key(user_key_, s.user));
  s.country = pick(u, kCountries);
  std::string_view usual_device = pick(u, kDevices);
  s.device = other_device ? session_device : usual_device;
  return s;
}

size_t Clickstream::write(uint64_t index, char* out, Cache* cache) const {
  // Where the event sits: lane, slot, which of the slot's two sessions, step in it.
  const uint64_t lane = index % lanes_;
  const uint64_t lane_event = index / lanes_;
  const uint64_t slot_id = (lane_event / kSlotEvents) * lanes_ + lane;
  const uint64_t pos = lane_event % kSlotEvents;
  Rng slot_rng(key(slot_key_, slot_id));
  const uint64_t cut = kMinSessionEvents + slot_rng.below(kSlotEvents - 2 * kMinSessionEvents + 1);
  const uint64_t second = pos >= cut ? 1 : 0;
  const uint64_t step = second ? pos - cut : pos;
  const uint64_t session_id = slot_id * 2 + second + 1;
  Session computed;
  const Session* sp = &computed;
  if (cache != nullptr) {
    const size_t e = session_id % Cache::kEntries;
    if (cache->ids_[e] != session_id) {
      cache->sessions_[e] = session(session_id);
      cache->ids_[e] = session_id;
    }
    sp = &cache->sessions_[e];
  } else {
    computed = session(session_id);
  }
  const Session& s = *sp;

  Rng r(key(event_key_, index));
  Malformation bad = Malformation::kNone;
  if (r.next() < malformed_threshold_) {
    switch (r.below(4)) {
      case 0: bad = Malformation::kTruncated; break;
      case 1: bad = Malformation::kNotJson; break;
      case 2: bad = Malformation::kBadUserId; break;
      default: bad = Malformation::kBadTimestamp; break;
    }
  }

  // Event time, possibly moved back.
  Micros ts = nominal_time(index);
  uint64_t disorder = r.next();
  if (disorder < late_threshold_) {
    ts -= disorder_unit_ * static_cast<Micros>(2 * max_disorder_units_ + r.below(8 * max_disorder_units_ + 1));
  } else if (disorder < disorder_threshold_) {
    ts -= disorder_unit_ * static_cast<Micros>(1 + r.below(max_disorder_units_));
  }

  // What the visitor does at this step of the funnel.
  int stage = 0;
  for (int k = 1; k <= 4; ++k) {
    if (step >= s.reach[k]) stage = k;
  }
  Page page;
  EventType type = EventType::kView;
  auto browse_product = [&] {
    page = {PageKind::kProduct, 1 + r.skewed(static_cast<uint64_t>(config_.pages), kProductSkewPercent)};
  };
  if (step == 0) {
    page.kind = r.percent(60) ? PageKind::kRoot : PageKind::kHome;
  } else if (stage > 0 && step == s.reach[stage]) {
    switch (stage) {
      case 1: page = {PageKind::kProduct, s.product}; type = EventType::kClick; break;
      case 2: page = {PageKind::kProduct, s.product}; type = EventType::kAddToCart; break;
      case 3: page.kind = PageKind::kCheckout; break;
      default: page.kind = PageKind::kCheckout; type = EventType::kPurchase; break;
    }
  } else if (r.below(1000) < 5) {
    page.kind = PageKind::kHealth;  // the mobile app's keep-alive ping
  } else {
    uint64_t x = r.below(100);
    uint64_t click_percent = 20;
    switch (stage) {
      case 0:
        if (x < 25) page.kind = PageKind::kSearch;
        else if (x < 40) page.kind = PageKind::kHome;
        else if (x < 90) browse_product();
        else page.kind = PageKind::kRoot;
        break;
      case 1:
        if (x < 45) page = {PageKind::kProduct, s.product};
        else if (x < 85) browse_product();
        else page.kind = PageKind::kSearch;
        click_percent = 25;
        break;
      case 2:
        if (x < 40) page.kind = PageKind::kCart;
        else browse_product();
        click_percent = 15;
        break;
      case 3:
        page.kind = x < 50 ? PageKind::kCheckout : PageKind::kCart;
        click_percent = 0;
        break;
      default:
        if (x < 50) page.kind = x < 25 ? PageKind::kRoot : PageKind::kHome;
        else browse_product();
        break;
    }
    if (r.percent(click_percent)) type = EventType::kClick;
  }

  Writer w(out);
  if (bad == Malformation::kNotJson) {
    switch (r.below(3)) {
      case 0:
        w.str("GET ");
        write_page(w, page);
        w.str(" HTTP/1.1 200");
        break;
      case 1: w.str("<html><body><h1>502 Bad Gateway</h1></body></html>"); break;
      default:
        w.str("user_id=");
        w.u64(s.user);
        w.str("&page=");
        write_page(w, page);
        w.str("&event_type=");
        w.str(kEventTypeNames[static_cast<int>(type)]);
        break;
    }
    return w.size();
  }
  w.str("{\"user_id\":");
  if (bad == Malformation::kBadUserId) {
    w.str(r.percent(50) ? "\"abc\"" : "\"n/a\"");
  } else {
    w.u64(s.user);
  }
  w.str(",\"page\":\"");
  write_page(w, page);
  w.str("\",\"ts\":");
  if (bad == Malformation::kBadTimestamp) {
    w.str(r.percent(50) ? "\"yesterday\"" : "\"2024-13-45 25:61:00\"");
  } else if (config_.epoch_millis) {
    w.i64(floor_div(ts, kMicrosPerMilli));
  } else {
    w.ch('"');
    DayMemo local;
    w.iso_timestamp(ts, cache != nullptr ? cache->day_ : local);
    w.ch('"');
  }
  w.str(",\"event_type\":\"");
  w.str(kEventTypeNames[static_cast<int>(type)]);
  w.str("\",\"device\":\"");
  w.str(s.device);
  w.str("\",\"country\":\"");
  w.str(s.country);
  w.str("\",\"session_id\":");
  w.u64(session_id);
  w.str(",\"amount\":");
  if (type == EventType::kPurchase) {
    Rng price(key(product_key_, s.product));
    uint64_t price_cents = (5 + price.below(250)) * 100 - 1;  // 4.99 .. 253.99
    w.cents(price_cents * s.quantity);
  } else {
    w.str("null");
  }
  w.ch('}');
  size_t len = w.size();
  SLUICE_ASSERT(len <= kMaxEventBytes, "generated event of {} bytes", len);
  if (bad == Malformation::kTruncated) {
    // A strict prefix of an object (at least "{", never the closing brace) is never JSON.
    len = 1 + r.below(len - 2);
  }
  return len;
}

}  // namespace sluice
