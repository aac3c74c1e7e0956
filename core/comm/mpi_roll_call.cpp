#include "core/comm/mpi_roll_call.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "core/comm/watchdog.h"
#include "core/runtime/rank_placement.h"

namespace trident::comm {

namespace {

constexpr int kQuestionTag = 1;  // "<answer tag>\n<group key>"
constexpr int kFirstAnswerTag = 2;
// "<knows group 0|1> <last started> <waiting 0|1>\n<what it does now>", NUL-padded
constexpr int kAnswerBytes = 1024;
constexpr int kHostBytes = 256;

std::vector<char> encode(const Progress& p) {
  std::string text =
      fmt::format("{} {} {}\n{}", p.knows_group ? 1 : 0, p.last_started, p.waiting ? 1 : 0, p.now);
  std::vector<char> buffer(kAnswerBytes, '\0');
  std::copy_n(text.begin(), std::min<size_t>(text.size(), kAnswerBytes - 1), buffer.begin());
  return buffer;
}

Progress decode(const std::vector<char>& buffer) {
  const std::string text(buffer.data(), strnlen(buffer.data(), buffer.size()));
  Progress p;
  int knows = 0, waiting = 0;
  unsigned long long last = 0;
  if (std::sscanf(text.c_str(), "%d %llu %d", &knows, &last, &waiting) != 3) {
    p.now = fmt::format("sent an answer that could not be read ('{}')", text.substr(0, 40));
    return p;
  }
  p.knows_group = knows != 0;
  p.last_started = last;
  p.waiting = waiting != 0;
  if (auto nl = text.find('\n'); nl != std::string::npos) p.now = text.substr(nl + 1);
  return p;
}

const char* thread_level_name(int level) {
  switch (level) {
    case MPI_THREAD_SINGLE:
      return "MPI_THREAD_SINGLE";
    case MPI_THREAD_FUNNELED:
      return "MPI_THREAD_FUNNELED";
    case MPI_THREAD_SERIALIZED:
      return "MPI_THREAD_SERIALIZED";
    case MPI_THREAD_MULTIPLE:
      return "MPI_THREAD_MULTIPLE";
  }
  return "unknown";
}

}  // namespace

MpiRollCall::MpiRollCall(double grace_s, std::chrono::milliseconds tick)
    : grace_s_(grace_s), tick_(tick), next_answer_tag_(kFirstAnswerTag) {
  TRIDENT_MPI_CHECK(MPI_Comm_dup(MPI_COMM_WORLD, &comm_));
  TRIDENT_MPI_CHECK(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN));
  int size = 0;
  TRIDENT_MPI_CHECK(MPI_Comm_size(comm_, &size));
  std::vector<char> mine(kHostBytes, '\0'), all(static_cast<size_t>(kHostBytes) * size);
  const std::string host = host_name();
  std::copy_n(host.begin(), std::min<size_t>(host.size(), kHostBytes - 1), mine.begin());
  TRIDENT_MPI_CHECK(
      MPI_Allgather(mine.data(), kHostBytes, MPI_CHAR, all.data(), kHostBytes, MPI_CHAR, comm_));
  for (int r = 0; r < size; ++r) {
    const char* h = &all[static_cast<size_t>(r) * kHostBytes];
    hosts_.emplace_back(h, strnlen(h, kHostBytes));
  }
}

MpiRollCall::~MpiRollCall() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) return;
  // Sends to ranks that never took them, and cancelled receives: freed requests, and buffers left to MPI
  // (it may still touch them; this only happens once a collective hung, as the job ends).
  for (auto* list : {&sends_, &abandoned_}) {
    for (auto& t : *list) {
      if (t->request != MPI_REQUEST_NULL) MPI_Request_free(&t->request);
      t.release();  // NOLINT: deliberately leaked, see above
    }
  }
  if (int rc = MPI_Comm_free(&comm_); rc != MPI_SUCCESS)
    spdlog::error("MPI_Comm_free of the watchdog's roll-call communicator failed: {}", mpi_error_string(rc));
}

bool MpiRollCall::send(std::vector<char> buffer, int rank, int tag) {
  auto t = std::make_unique<Transfer>();
  t->buffer = std::move(buffer);
  const int rc = MPI_Isend(t->buffer.data(), static_cast<int>(t->buffer.size()), MPI_CHAR, rank, tag, comm_,
                           &t->request);
  if (rc != MPI_SUCCESS) {
    spdlog::warn("watchdog: a roll-call message to rank {} failed: {}", rank, mpi_error_string(rc));
    return false;
  }
  sends_.push_back(std::move(t));
  return true;
}

void MpiRollCall::reap_sends() {
  for (auto& t : sends_) {
    int done = 0;
    // A send to a rank that has gone may fail: dropped like one that completed.
    if (MPI_Test(&t->request, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS) t->request = MPI_REQUEST_NULL;
  }
  std::erase_if(sends_, [](const auto& t) { return t->request == MPI_REQUEST_NULL; });
}

void MpiRollCall::serve(const ProgressOf& progress_of) {
  reap_sends();
  for (;;) {
    int found = 0;
    MPI_Message message = MPI_MESSAGE_NULL;
    MPI_Status status;
    TRIDENT_MPI_CHECK(MPI_Improbe(MPI_ANY_SOURCE, kQuestionTag, comm_, &found, &message, &status));
    if (!found) return;
    int n = 0;
    TRIDENT_MPI_CHECK(MPI_Get_count(&status, MPI_CHAR, &n));
    std::string question(static_cast<size_t>(n), '\0');
    TRIDENT_MPI_CHECK(MPI_Mrecv(question.data(), n, MPI_CHAR, &message, MPI_STATUS_IGNORE));
    const auto nl = question.find('\n');
    const int tag = std::atoi(question.substr(0, nl).c_str());
    if (nl == std::string::npos || tag < kFirstAnswerTag) {
      spdlog::error("watchdog: unreadable roll-call question from rank {}", status.MPI_SOURCE);
      continue;
    }
    // If the answer cannot be sent, the asker names this rank as not answering; send() logged why.
    send(encode(progress_of(question.substr(nl + 1))), status.MPI_SOURCE, tag);
  }
}

std::vector<RollAnswer> MpiRollCall::ask(const std::string& group_key, const std::vector<int>& ranks,
                                         const ProgressOf& progress_of) {
  // A tag of its own per roll call, so a late answer to an earlier one is never taken for this one's.
  const int tag = next_answer_tag_++;
  const std::string question = fmt::format("{}\n{}", tag, group_key);
  std::vector<RollAnswer> answers(ranks.size());
  std::vector<std::unique_ptr<Transfer>> receives(ranks.size());
  size_t open = 0;
  for (size_t i = 0; i < ranks.size(); ++i) {
    answers[i].global_rank = ranks[i];
    answers[i].host = ranks[i] < static_cast<int>(hosts_.size()) ? hosts_[ranks[i]] : "";
    receives[i] = std::make_unique<Transfer>();
    receives[i]->buffer.assign(kAnswerBytes, '\0');
    // A rank that MPI cannot reach counts as one that does not answer.
    if (!send(std::vector<char>(question.begin(), question.end()), ranks[i], kQuestionTag)) continue;
    if (MPI_Irecv(receives[i]->buffer.data(), kAnswerBytes, MPI_CHAR, ranks[i], tag, comm_,
                  &receives[i]->request) == MPI_SUCCESS)
      ++open;
    else
      receives[i]->request = MPI_REQUEST_NULL;
  }
  const auto deadline =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(grace_s_));
  while (open > 0 && Clock::now() < deadline) {
    serve(progress_of);  // others may be asking too, and wait for this rank's answer
    for (size_t i = 0; i < ranks.size(); ++i) {
      if (receives[i]->request == MPI_REQUEST_NULL) continue;
      int done = 0;
      if (MPI_Test(&receives[i]->request, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS) {
        receives[i]->request = MPI_REQUEST_NULL;  // the connection failed: no answer
      } else if (done) {
        answers[i].progress = decode(receives[i]->buffer);
      } else {
        continue;
      }
      --open;
    }
    if (open > 0) std::this_thread::sleep_for(tick_);
  }
  for (auto& r : receives) {
    if (r->request == MPI_REQUEST_NULL) continue;
    MPI_Cancel(&r->request);
    abandoned_.push_back(std::move(r));
  }
  return answers;
}

double roll_call_grace_s(double timeout_s) {
  return std::clamp(0.1 * timeout_s, 2.0, 10.0);
}

void attach_mpi_roll_call(Watchdog& watchdog) {
  int level = MPI_THREAD_SINGLE;
  TRIDENT_MPI_CHECK(MPI_Query_thread(&level));
  if (level < MPI_THREAD_MULTIPLE) {
    watchdog.set_roll_call(
        nullptr,
        fmt::format("the watchdog cannot ask the other ranks how far they got, since this MPI library "
                    "runs with {} and asking from the watchdog thread needs MPI_THREAD_MULTIPLE",
                    thread_level_name(level)));
    return;
  }
  watchdog.set_roll_call(std::make_shared<MpiRollCall>(roll_call_grace_s(watchdog.timeout_s())));
}

}  // namespace trident::comm
