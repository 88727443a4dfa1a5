//! The tokio runtime a blocking client owns.

/// The client's runtime. Dropped from inside an async context (a caller's tokio test, say), it
/// shuts down in the background instead of panicking.
#[derive(Debug)]
pub struct OwnedRuntime(Option<tokio::runtime::Runtime>);

impl OwnedRuntime {
    /// Owns `runtime`.
    pub fn new(runtime: tokio::runtime::Runtime) -> OwnedRuntime {
        OwnedRuntime(Some(runtime))
    }

    /// Runs `future` to completion on the runtime.
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        match &self.0 {
            Some(runtime) => runtime.block_on(future),
            // The runtime is only taken out in `drop`, so this is unreachable while `self` is borrowed.
            None => unreachable!("runtime used after drop"),
        }
    }
}

impl Drop for OwnedRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            if tokio::runtime::Handle::try_current().is_ok() {
                runtime.shutdown_background();
            }
        }
    }
}
