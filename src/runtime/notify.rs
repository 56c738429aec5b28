//! systemd's readiness protocol (`Type=notify` services, `systemd-run --service-type=notify`):
//! when `$NOTIFY_SOCKET` names a socket, rtrace sends `READY=1` once every probe is attached
//! and `STOPPING=1` when it stops tracing, as bpftrace built with systemd support does
//! (language.md, "Systemd support"). Without the variable nothing is sent.

use std::io;
use std::os::unix::net::{SocketAddr, UnixDatagram};

/// Once every probe is attached.
pub const READY: &str = "READY=1\nSTATUS=Processing events...";
/// When tracing stops.
pub const STOPPING: &str = "STOPPING=1\nSTATUS=Shutting down...";

/// Sends `state` to `$NOTIFY_SOCKET`, if set; a failure is a warning (unless `quiet`), as in
/// bpftrace: the trace goes on.
pub fn notify(state: &str, quiet: bool) {
    let Some(socket) = std::env::var_os("NOTIFY_SOCKET").filter(|s| !s.is_empty()) else { return };
    if let Err(e) = send(&socket.to_string_lossy(), state) {
        if !quiet {
            eprintln!("warning: cannot notify systemd through NOTIFY_SOCKET `{}`: {e}", socket.to_string_lossy());
        }
    }
}

/// One datagram with `state` to the socket at `path`: a file's path, or an abstract
/// socket's name after `@`.
pub fn send(path: &str, state: &str) -> io::Result<()> {
    let addr = match path.strip_prefix('@') {
        Some(name) => abstract_addr(name.as_bytes())?,
        None if path.starts_with('/') => SocketAddr::from_pathname(path)?,
        None => return Err(io::Error::new(io::ErrorKind::Unsupported, "only Unix sockets are supported")),
    };
    let socket = UnixDatagram::unbound()?;
    // A receiver whose queue is full must not hold rtrace: the send fails (EAGAIN) instead.
    socket.set_nonblocking(true)?;
    socket.send_to_addr(state.as_bytes(), &addr)?;
    Ok(())
}

fn abstract_addr(name: &[u8]) -> io::Result<SocketAddr> {
    use std::os::linux::net::SocketAddrExt;
    SocketAddr::from_abstract_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_one_datagram_to_a_path_and_to_an_abstract_name() {
        let dir = std::env::temp_dir().join(format!("rtrace-notify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify.sock");
        let _ = std::fs::remove_file(&path);
        let server = UnixDatagram::bind(&path).unwrap();
        send(path.to_str().unwrap(), READY).unwrap();
        let mut buf = [0u8; 128];
        let n = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], READY.as_bytes());

        let name = format!("rtrace-notify-test-{}", std::process::id());
        let server = UnixDatagram::bind_addr(&abstract_addr(name.as_bytes()).unwrap()).unwrap();
        send(&format!("@{name}"), STOPPING).unwrap();
        let n = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], STOPPING.as_bytes());
        assert!(send("vsock:2:1", READY).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_receiver_that_does_not_read_makes_the_send_fail_not_block() {
        let name = format!("rtrace-notify-stuck-{}", std::process::id());
        let _server = UnixDatagram::bind_addr(&abstract_addr(name.as_bytes()).unwrap()).unwrap();
        // The receiver's queue holds net.unix.max_dgram_qlen datagrams (10 by default); a
        // blocking send would wait for ever once it is full.
        let failed = (0..100_000).find_map(|_| send(&format!("@{name}"), READY).err());
        assert_eq!(failed.map(|e| e.kind()), Some(io::ErrorKind::WouldBlock));
    }
}
