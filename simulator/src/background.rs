//! Running a server on a tokio runtime of its own, on a background thread, for synchronous
//! callers (tests, the demo): the LDAP server and the fake Entra tenant both start this way.
//!
//! It does not know what it starts: the caller gives the async start, how to watch the handle's
//! shutdown signal, and how to turn a runtime failure into its own error.

use std::future::Future;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::watch;

/// Starts `start()` on a new two-worker runtime on a thread named `name`, waits for its handle,
/// and keeps the runtime alive until `shutdown(&handle)` turns true. Returns the handle and the
/// thread (the handle's owner joins it on drop).
pub(crate) fn start_in_background<H, E, Fut>(
    name: &str,
    start: impl FnOnce() -> Fut + Send + 'static,
    shutdown: fn(&H) -> watch::Receiver<bool>,
    runtime_error: fn(std::io::Error) -> E,
) -> Result<(H, JoinHandle<()>), E>
where
    H: Send + 'static,
    E: Send + 'static,
    Fut: Future<Output = Result<H, E>>,
{
    let (sender, receiver) = std::sync::mpsc::channel();
    let thread = std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(error) => {
                    let _ = sender.send(Err(runtime_error(error)));
                    return;
                }
            };
            runtime.block_on(async move {
                match start().await {
                    Ok(handle) => {
                        let mut stopped = shutdown(&handle);
                        let _ = sender.send(Ok(handle));
                        let _ = stopped.wait_for(|stop| *stop).await;
                    }
                    Err(error) => {
                        let _ = sender.send(Err(error));
                    }
                }
            });
            // Give connections a moment to send their notices before the runtime goes.
            runtime.shutdown_timeout(Duration::from_millis(200));
        })
        .map_err(runtime_error)?;
    let handle = receiver.recv().map_err(|_| {
        runtime_error(std::io::Error::other(format!(
            "the {name} thread ended before starting"
        )))
    })??;
    Ok((handle, thread))
}
