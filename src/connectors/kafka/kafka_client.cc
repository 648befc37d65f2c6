#include "connectors/kafka/kafka_client.h"

#include <algorithm>
#include <cstring>

#include "common/logging.h"
#include "connectors/connector_util.h"

namespace sluice {
namespace {

// librdkafka's log lines: warnings and errors through sluice's logger (they name brokers
// and errors, never configuration values).
void log_line(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
  if (level <= 4) log_warn("kafka {}: {}", rd_kafka_name(rk), buf);
}

bool is_transient(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__WAIT_COORD:
    case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
    case RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR__RESOLVE:
    case RD_KAFKA_RESP_ERR_BROKER_NOT_AVAILABLE:
      return true;
    default:
      return false;
  }
}

}  // namespace

const std::string* KafkaClientSettings::find(const std::string& name) const {
  const std::string* found = nullptr;
  for (const auto& [k, v] : settings) {
    if (k == name) found = &v;
  }
  return found;
}

bool is_secret_kafka_setting(const std::string& name) {
  for (const char* word : {"password", "secret", "jaas", "token", "ssl.key.", "ssl.keystore.", "ssl_key",
                           "private"}) {
    if (name.find(word) != std::string::npos) return true;
  }
  return name == "ssl.key.pem" || name == "ssl.certificate.pem";
}

Result<KafkaClientSettings> read_kafka_client_settings(const ConnectorOptions& options, const std::string& context) {
  KafkaClientSettings out;
  out.context = context;
  ASSIGN_OR_RETURN(std::string servers, options.require_string("bootstrap_servers"));
  if (servers.empty()) return invalid_argument("{}: option 'bootstrap_servers' is empty", context);
  out.set("bootstrap.servers", servers);
  for (auto& [name, value] : options.with_prefix("properties.")) {
    if (name == "bootstrap.servers") {
      return invalid_argument("{}: set the brokers with option 'bootstrap_servers', not 'properties.bootstrap.servers'",
                              context);
    }
    out.set(name, value);
  }
  return out;
}

namespace {

// The configuration of a handle (see make_kafka_handle); the caller owns it.
Result<rd_kafka_conf_t*> build_conf(const KafkaClientSettings& settings, const KafkaSettingList& defaults,
                                    const KafkaSettingList& required, const std::string& role) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  auto set = [&](const std::string& name, const std::string& value, bool from_user) -> Status {
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), err, sizeof err) == RD_KAFKA_CONF_OK) {
      return Status::ok();
    }
    const std::string where = from_user ? fmt::format("option 'properties.{}'", name) : fmt::format("setting '{}'", name);
    // librdkafka's message quotes the value: left out for secrets.
    if (is_secret_kafka_setting(name)) return invalid_argument("{}: {} is not accepted by librdkafka", settings.context, where);
    return invalid_argument("{}: {}: {}", settings.context, where, err);
  };
  Status s = Status::ok();
  for (const auto& [k, v] : defaults) {
    if (s.is_ok()) s = set(k, v, false);
  }
  for (const auto& [k, v] : settings.settings) {
    if (!s.is_ok()) break;
    for (const auto& [rk, rv] : required) {
      if (rk == k && rv != v) {
        s = invalid_argument("{}: option 'properties.{}' = '{}' contradicts what the {} needs ('{}')", settings.context,
                             k, is_secret_kafka_setting(k) ? "***" : v, role, rv);
      }
    }
    if (s.is_ok()) s = set(k, v, k != "bootstrap.servers");
  }
  for (const auto& [k, v] : required) {
    if (s.is_ok()) s = set(k, v, false);
  }
  if (!s.is_ok()) {
    rd_kafka_conf_destroy(conf);
    return s;
  }
  return conf;
}

}  // namespace

Status check_kafka_settings(const KafkaClientSettings& settings, const KafkaSettingList& defaults,
                            const KafkaSettingList& required, const std::string& role) {
  ASSIGN_OR_RETURN(rd_kafka_conf_t * conf, build_conf(settings, defaults, required, role));
  rd_kafka_conf_destroy(conf);
  return Status::ok();
}

Result<KafkaHandle> make_kafka_handle(rd_kafka_type_t type, const KafkaClientSettings& settings,
                                      const KafkaSettingList& defaults, const KafkaSettingList& required,
                                      const std::string& role,
                                      const std::function<void(rd_kafka_conf_t*)>& customize) {
  ASSIGN_OR_RETURN(rd_kafka_conf_t * conf, build_conf(settings, defaults, required, role));
  char err[512];
  rd_kafka_conf_set_log_cb(conf, &log_line);
  if (customize) customize(conf);
  rd_kafka_t* rk = rd_kafka_new(type, conf, err, sizeof err);  // takes `conf` on success
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return invalid_argument("{}: cannot create the Kafka {}: {}", settings.context, role, err);
  }
  return KafkaHandle(rk);
}

Result<int> kafka_partition_count(rd_kafka_t* rk, const std::string& topic, int timeout_ms) {
  rd_kafka_topic_t* t = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  if (t == nullptr) return kafka_error(rd_kafka_last_error(), fmt::format("topic '{}'", topic));
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, t, &md, timeout_ms);
  rd_kafka_topic_destroy(t);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return kafka_error(err, fmt::format("metadata of topic '{}'", topic));
  int count = 0;
  Status status = Status::ok();
  for (int i = 0; i < md->topic_cnt; ++i) {
    const rd_kafka_metadata_topic_t& mt = md->topics[i];
    if (topic != mt.topic) continue;
    if (mt.err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) break;
    if (mt.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      status = kafka_error(mt.err, fmt::format("metadata of topic '{}'", topic));
      break;
    }
    count = mt.partition_cnt;
  }
  rd_kafka_metadata_destroy(md);
  if (!status.is_ok()) return status;
  return count;
}

Result<std::vector<std::string>> kafka_list_topics(rd_kafka_t* rk, int timeout_ms) {
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, nullptr, &md, timeout_ms);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return kafka_error(err, "the list of topics");
  std::vector<std::string> out;
  for (int i = 0; i < md->topic_cnt; ++i) {
    std::string name = md->topics[i].topic;
    if (md->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR && name.rfind("__", 0) != 0) out.push_back(std::move(name));
  }
  rd_kafka_metadata_destroy(md);
  std::sort(out.begin(), out.end());
  return out;
}

Status kafka_error(rd_kafka_resp_err_t err, const std::string& what) {
  std::string msg = fmt::format("Kafka: {}: {} ({})", what, rd_kafka_err2str(err), rd_kafka_err2name(err));
  if (is_transient(err)) return Status(StatusCode::kUnavailable, std::move(msg));
  return Status(StatusCode::kIoError, std::move(msg));
}

Status kafka_error(rd_kafka_error_t* error, const std::string& what) {
  std::string msg = fmt::format("Kafka: {}: {} ({})", what, rd_kafka_error_string(error), rd_kafka_error_name(error));
  const bool retriable = rd_kafka_error_is_retriable(error) || is_transient(rd_kafka_error_code(error));
  rd_kafka_error_destroy(error);
  return Status(retriable ? StatusCode::kUnavailable : StatusCode::kIoError, std::move(msg));
}

}  // namespace sluice
