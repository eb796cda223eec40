// savina_caf.cpp -- the same Savina benchmarks on CAF 0.17 (the peer that
// `make bench-runtime` compares dispatchd's runtime against).
//
//   savina_caf NAME THREADS   prints "msgs=N seconds=S"
//
// Same workloads and counts as savina_dispatchd.c: pingpong 1,000,000 round
// trips; counting 1,000,000 messages to one actor; fjthrput 60 actors x
// 10,000 messages; big 120 actors x 20,000 pings. Event-based actors, CAF's
// work-stealing scheduler with `scheduler.max-threads` = THREADS.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "caf/all.hpp"

using namespace caf;

using ping_atom = atom_constant<atom("ping")>;
using pong_atom = atom_constant<atom("pong")>;
using start_atom = atom_constant<atom("start")>;
using count_atom = atom_constant<atom("count")>;
using work_atom = atom_constant<atom("work")>;
using done_atom = atom_constant<atom("done")>;

namespace {

constexpr long pp_rounds = 1000000;
constexpr long count_n = 1000000;
constexpr int fj_actors = 60;
constexpr long fj_msgs = 10000;
constexpr int big_actors = 120;
constexpr long big_pings = 20000;

behavior pp_ponger(event_based_actor* self) {
  return {[=](ping_atom, long n, const actor& from) { self->send(from, pong_atom::value, n); }};
}

behavior pp_pinger(event_based_actor* self, actor ponger, actor done) {
  return {
    [=](start_atom) { self->send(ponger, ping_atom::value, pp_rounds, actor_cast<actor>(self)); },
    [=](pong_atom, long n) {
      if (n - 1 == 0) {
        self->send(done, done_atom::value);
        self->quit();
      } else {
        self->send(ponger, ping_atom::value, n - 1, actor_cast<actor>(self));
      }
    }};
}

behavior counter(stateful_actor<long>* self, actor done) {
  self->state = 0;
  return {[=](count_atom, long) {
    if (++self->state == count_n) {
      self->send(done, done_atom::value);
      self->quit();
    }
  }};
}

behavior producer(event_based_actor* self, actor target) {
  return {[=](start_atom) {
    for (long i = 0; i < count_n; ++i)
      self->send(target, count_atom::value, i);
  }};
}

struct fj_state {
  long n = 0;
  double sink = 0;
};

behavior fj_worker(stateful_actor<fj_state>* self, actor done) {
  return {[=](work_atom, long v) {
    double s = std::sin(37.2 + static_cast<double>(v) * 1e-9);
    if (s * s <= 0)
      std::abort();
    self->state.sink += s;
    if (++self->state.n == fj_msgs) {
      self->send(done, done_atom::value);
      self->quit();
    }
  }};
}

behavior fj_master(event_based_actor* self, std::vector<actor> workers) {
  return {[=](start_atom) {
    for (long i = 0; i < fj_msgs * fj_actors; ++i)
      self->send(workers[i % fj_actors], work_atom::value, i);
  }};
}

struct big_state {
  std::shared_ptr<std::vector<actor>> all;
  long left = big_pings;
  unsigned rng = 1;
};

void big_ping(stateful_actor<big_state>* self) {
  auto& s = self->state;
  s.rng = s.rng * 1103515245u + 12345u;
  self->send((*s.all)[(s.rng >> 8) % big_actors], ping_atom::value, actor_cast<actor>(self));
}

behavior big_actor(stateful_actor<big_state>* self, std::shared_ptr<std::vector<actor>> all, unsigned seed,
                   actor done) {
  self->state.all = all;
  self->state.rng = seed;
  return {
    [=](start_atom) { big_ping(self); },
    [=](ping_atom, const actor& from) { self->send(from, pong_atom::value); },
    [=](pong_atom) {
      if (--self->state.left == 0)
        self->send(done, done_atom::value);
      else
        big_ping(self);
    },
    [=](done_atom) { self->quit(); }};
}

long run(actor_system& sys, const std::string& name) {
  scoped_actor waiter{sys};
  actor done = actor_cast<actor>(waiter);
  int expect = 1;
  long msgs = 0;
  std::vector<actor> keep;
  if (name == "pingpong") {
    auto ponger = sys.spawn(pp_ponger);
    auto pinger = sys.spawn(pp_pinger, ponger, done);
    keep = {ponger, pinger};
    anon_send(pinger, start_atom::value);
    msgs = 2 * pp_rounds;
  } else if (name == "counting") {
    auto c = sys.spawn(counter, done);
    auto p = sys.spawn(producer, c);
    keep = {c, p};
    anon_send(p, start_atom::value);
    msgs = count_n;
  } else if (name == "fjthrput") {
    std::vector<actor> workers;
    for (int i = 0; i < fj_actors; ++i)
      workers.push_back(sys.spawn(fj_worker, done));
    auto m = sys.spawn(fj_master, workers);
    keep = workers;
    keep.push_back(m);
    anon_send(m, start_atom::value);
    expect = fj_actors;
    msgs = fj_msgs * fj_actors;
  } else if (name == "big") {
    auto all = std::make_shared<std::vector<actor>>();
    for (int i = 0; i < big_actors; ++i)
      all->push_back(sys.spawn(big_actor, all, static_cast<unsigned>(i) * 7919u + 1, done));
    for (auto& a : *all)
      anon_send(a, start_atom::value);
    keep = *all;
    expect = big_actors;
    msgs = 2L * big_actors * big_pings;
  } else {
    std::fprintf(stderr, "unknown benchmark %s\n", name.c_str());
    std::exit(2);
  }
  for (int i = 0; i < expect; ++i)
    waiter->receive([](done_atom) {});
  for (auto& a : keep)
    anon_send_exit(a, exit_reason::user_shutdown);
  return msgs;
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: savina_caf pingpong|counting|fjthrput|big THREADS\n");
    return 2;
  }
  actor_system_config cfg;
  cfg.set("scheduler.max-threads", static_cast<size_t>(std::atoi(argv[2])));
  cfg.set("logger.verbosity", atom("quiet"));
  long msgs;
  double secs;
  {
    actor_system sys{cfg};
    auto t0 = std::chrono::steady_clock::now();
    msgs = run(sys, argv[1]);
    secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  // VmHWM, not getrusage: ru_maxrss survives exec.
  long kb = -1;
  if (FILE* f = std::fopen("/proc/self/status", "r")) {
    char line[256];
    while (std::fgets(line, sizeof(line), f))
      if (std::sscanf(line, "VmHWM: %ld kB", &kb) == 1)
        break;
    std::fclose(f);
  }
  std::printf("msgs=%ld seconds=%.6f rss_kb=%ld\n", msgs, secs, kb);
  return 0;
}
