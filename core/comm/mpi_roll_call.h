#pragma once
// MpiRollCall: the roll call (roll_call.h) over a duplicate of MPI_COMM_WORLD that only watchdog threads use.
// A rank whose collective timed out sends each other member of the group a question (the group's key and
// the tag to answer on) and polls for the answers; every rank's watchdog thread looks for questions at each
// poll (MPI_Improbe) and answers at once. Nothing waits on a peer: sends and receives are non-blocking and
// tested, so a stopped peer costs the asker the grace period and no more.
//
// Why two-sided messages and not a one-sided window that each rank writes its progress into: a passive-target
// MPI_Get from a rank on another node goes through that rank's progress engine over TCP, and a stopped
// process has none, so the asker could learn nothing of any rank (the get would not complete). Here a silent
// rank only stays silent, and every live rank answers for itself.
//
// Needs MPI_THREAD_MULTIPLE, since the watchdog thread calls MPI while the main thread waits in a collective.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "core/comm/mpi_check.h"
#include "core/comm/roll_call.h"

namespace trident::comm {

class Watchdog;

class MpiRollCall final : public RollCall {
 public:
  // Collective over MPI_COMM_WORLD: duplicates it and all-gathers the ranks' host names (for messages about
  // ranks that do not answer).
  explicit MpiRollCall(double grace_s, std::chrono::milliseconds tick = std::chrono::milliseconds(5));
  ~MpiRollCall() override;
  MpiRollCall(const MpiRollCall&) = delete;
  MpiRollCall& operator=(const MpiRollCall&) = delete;

  double grace_s() const override { return grace_s_; }
  void serve(const ProgressOf& progress_of) override;
  std::vector<RollAnswer> ask(const std::string& group_key, const std::vector<int>& ranks,
                              const ProgressOf& progress_of) override;

 private:
  // A message in flight and the buffer MPI reads or writes until it completes.
  struct Transfer {
    MPI_Request request = MPI_REQUEST_NULL;
    std::vector<char> buffer;
  };
  bool send(std::vector<char> buffer, int rank, int tag);  // false (and logged) if MPI refuses it
  void reap_sends();                                       // drops the sends that completed

  MPI_Comm comm_ = MPI_COMM_NULL;
  double grace_s_;
  std::chrono::milliseconds tick_;
  std::vector<std::string> hosts_;  // by global rank
  int next_answer_tag_;
  std::vector<std::unique_ptr<Transfer>> sends_;
  // Receives of answers that never came, cancelled; kept since MPI may still write their buffers.
  std::vector<std::unique_ptr<Transfer>> abandoned_;
};

// How long a roll call waits for answers after a timeout of timeout_s: long enough for a loaded machine's
// watchdog threads (they poll every 100 ms), short next to the timeout. 10% of it, between 2 and 10 s.
double roll_call_grace_s(double timeout_s);

// Gives `watchdog` an MpiRollCall when MPI runs with MPI_THREAD_MULTIPLE, else tells it why it cannot ask
// the other ranks (its timeout messages then say so). Every rank calls it together, after MPI_Init_thread.
void attach_mpi_roll_call(Watchdog& watchdog);

}  // namespace trident::comm
