// A TCP port on 127.0.0.1 that nothing holds right now, for the tests,
// benchmarks and tools that start a listener later: a random one in
// 10000-19999 that could be bound and was released (below the kernel's
// ephemeral range, so no outgoing connection takes it while its listener
// restarts), or one the kernel picks if that range is ephemeral here.
// Another process may take it in between; callers that cannot retry should
// listen on port 0 themselves.
#ifndef DFLOW_COMMON_LOOPBACK_H_
#define DFLOW_COMMON_LOOPBACK_H_

namespace dflow {

// 0 when no socket could be bound.
int FreeLoopbackPort();

}  // namespace dflow

#endif  // DFLOW_COMMON_LOOPBACK_H_
