// What the Kafka source, sink and mock cluster share: librdkafka handles owned by RAII
// pointers, the client settings of a table (bootstrap_servers and the `properties.*`
// pass-through), errors that name the table and never a secret, and metadata look-ups.
//
// Secrets: a setting whose name suggests a credential (password, secret, sasl.jaas, the
// key material of ssl.*) is never written to a log or an error message; only its name is.
// librdkafka's own log lines go through sluice's logger at warning level and above.
//
// Threads: a handle is used by the thread that owns its reader, writer or enumerator;
// librdkafka's own threads call the log and delivery callbacks (they only touch atomics
// and the logger).
#pragma once

#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "connectors/options.h"

namespace sluice {

struct KafkaHandleDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using KafkaHandle = std::unique_ptr<rd_kafka_t, KafkaHandleDeleter>;

struct KafkaPartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const { rd_kafka_topic_partition_list_destroy(l); }
};
using KafkaPartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, KafkaPartitionListDeleter>;

struct KafkaQueueDeleter {
  void operator()(rd_kafka_queue_t* q) const { rd_kafka_queue_destroy(q); }
};
using KafkaQueue = std::unique_ptr<rd_kafka_queue_t, KafkaQueueDeleter>;

// The client settings of one table: bootstrap_servers plus every `properties.NAME` option
// (passed to librdkafka as NAME). Later settings override earlier ones.
struct KafkaClientSettings {
  std::string context;  // "table clicks", for messages
  std::vector<std::pair<std::string, std::string>> settings;

  void set(std::string name, std::string value) { settings.emplace_back(std::move(name), std::move(value)); }
  // The value of `name` if the user or the connector set it.
  const std::string* find(const std::string& name) const;
};

// Reads `bootstrap_servers` (required) and `properties.*` of a Kafka table.
Result<KafkaClientSettings> read_kafka_client_settings(const ConnectorOptions& options, const std::string& context);

// Whether a librdkafka setting holds a secret (never logged).
bool is_secret_kafka_setting(const std::string& name);

// Creates a producer or consumer: `defaults` first, then the table's settings (the user's
// properties override defaults), then `required` (settings the connector's guarantees
// depend on; a user property that contradicts one is an error, not silently replaced).
// `customize` may add callbacks and an opaque pointer. `role` names it in errors.
using KafkaSettingList = std::vector<std::pair<std::string, std::string>>;
Result<KafkaHandle> make_kafka_handle(rd_kafka_type_t type, const KafkaClientSettings& settings,
                                      const KafkaSettingList& defaults, const KafkaSettingList& required,
                                      const std::string& role,
                                      const std::function<void(rd_kafka_conf_t*)>& customize = {});

// Checks the settings as make_kafka_handle would apply them, without creating a handle
// (factories call it at planning time, so a bad property fails before the job starts).
Status check_kafka_settings(const KafkaClientSettings& settings, const KafkaSettingList& defaults,
                            const KafkaSettingList& required, const std::string& role);

// The partitions of `topic` (empty when the topic does not exist). kUnavailable when the
// cluster does not answer within timeout_ms.
Result<int> kafka_partition_count(rd_kafka_t* rk, const std::string& topic, int timeout_ms);
// Every topic of the cluster (internal ones, starting with "__", left out).
Result<std::vector<std::string>> kafka_list_topics(rd_kafka_t* rk, int timeout_ms);

// "KafkaError: what (error name)" as a Status: transient errors are kUnavailable.
Status kafka_error(rd_kafka_resp_err_t err, const std::string& what);
Status kafka_error(rd_kafka_error_t* error, const std::string& what);  // destroys `error`

}  // namespace sluice
