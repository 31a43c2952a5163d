// A local HTTP receiver for webhook tests: records every POST, answers with the statuses a
// test sets (then 200), optionally after a delay. Listens on a free loopback port.
#ifndef CMO_TESTS_FAKES_WEBHOOK_RECEIVER_H_
#define CMO_TESTS_FAKES_WEBHOOK_RECEIVER_H_

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace cmo::testing {

class Receiver {
 public:
  struct Request {
    std::string path;
    std::string body;
    httplib::Headers headers;
  };

  Receiver() {
    server_.Post(R"(/.*)", [this](const httplib::Request& req, httplib::Response& res) {
      std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms.load()));
      std::lock_guard<std::mutex> lock(mu_);
      requests_.push_back({req.path, req.body, req.headers});
      res.status = next_ < statuses_.size() ? statuses_[next_++] : 200;
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~Receiver() {
    server_.stop();
    thread_.join();
  }

  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::vector<Request> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }

  // The answers to the next requests, in order (200 after them). Under the lock: TSan cannot
  // see that the request that reads them was sent (over TCP) after they were set.
  void SetStatuses(std::vector<int> statuses) {
    std::lock_guard<std::mutex> lock(mu_);
    statuses_ = std::move(statuses);
  }
  std::atomic<int> delay_ms{0};

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  size_t next_ = 0;
  std::vector<int> statuses_;
  std::vector<Request> requests_;
};

}  // namespace cmo::testing

#endif  // CMO_TESTS_FAKES_WEBHOOK_RECEIVER_H_
