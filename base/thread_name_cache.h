// A per-thread map of (owner, name) -> value, for lookups on every request that would otherwise
// take a shared map's lock: request threads look up the same few ops over and over, and with a
// lock each lookup would serialize them. Values are the thread's own, so they may also hold
// what a thread memoizes per op.
#ifndef CMO_BASE_THREAD_NAME_CACHE_H_
#define CMO_BASE_THREAD_NAME_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "absl/container/node_hash_map.h"
#include "absl/hash/hash.h"

namespace cmo::base {

// `Tag` separates caches of different kinds; `owner` must be process-unique, non-zero and never
// reused (a destroyed owner's entries then never match), and pointers in a value must stay valid
// for as long as its owner lives. The last name a thread looked up answers with one comparison;
// any other name it has seen with one hash lookup. A thread's cache is emptied when it passes
// kMaxEntries (which drops the entries of destroyed owners): a pointer from Find() or Put()
// stays valid until the thread's next Put().
template <typename Tag, typename V>
class ThreadNameCache {
 public:
  static constexpr size_t kMaxEntries = 4096;

  // This thread's value for (owner, name), or null.
  static V* Find(uint64_t owner, std::string_view name) {
    State& s = Local();
    if (s.last_owner == owner && s.last_name == name) return s.last_value;
    return FindInMap(s, owner, name);
  }

  static V* Put(uint64_t owner, std::string_view name, V value) {
    State& s = Local();
    if (s.all.size() >= kMaxEntries) s.all.clear();  // `last` is replaced just below
    auto [it, inserted] = s.all.insert_or_assign(Key{owner, std::string(name)}, std::move(value));
    s.Remember(owner, name, &it->second);
    return &it->second;
  }

 private:
  struct Key {
    uint64_t owner;
    std::string name;
  };
  struct KeyView {
    uint64_t owner;
    std::string_view name;
  };
  // Transparent, so a lookup by string_view builds no std::string.
  struct Hash {
    using is_transparent = void;
    size_t operator()(const Key& k) const {
      return absl::HashOf(k.owner, std::string_view(k.name));
    }
    size_t operator()(const KeyView& k) const { return absl::HashOf(k.owner, k.name); }
  };
  struct Eq {
    using is_transparent = void;
    static KeyView View(const Key& k) { return {k.owner, k.name}; }
    static KeyView View(const KeyView& k) { return k; }
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return View(a).owner == View(b).owner && View(a).name == View(b).name;
    }
  };
  struct State {
    uint64_t last_owner = 0;  // 0: none yet (owners count from 1)
    std::string last_name;
    V* last_value = nullptr;
    absl::node_hash_map<Key, V, Hash, Eq> all;  // nodes: values stay put when it grows

    void Remember(uint64_t owner, std::string_view name, V* value) {
      last_owner = owner;
      last_name.assign(name);
      last_value = value;
    }
  };
  // Out of line: the check of the last name is the part for callers to inline.
  [[gnu::noinline]] static V* FindInMap(State& s, uint64_t owner, std::string_view name) {
    auto it = s.all.find(KeyView{owner, name});
    if (it == s.all.end()) return nullptr;
    s.Remember(owner, name, &it->second);
    return &it->second;
  }
  static State& Local() {
    thread_local State state;
    return state;
  }
};

}  // namespace cmo::base

#endif  // CMO_BASE_THREAD_NAME_CACHE_H_
