//! The Credible Layer sidecar stand-in (issue 21, in progress): so far its protocol state, which
//! enforces what the real sidecar enforces on the event stream. The gRPC server, the execution of
//! candidates against the L2 and the demo assertion come next.

pub mod state;
