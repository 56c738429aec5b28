//! `skboutput()`'s packets: the perf buffer of `plan::SKB_OUTPUT_MAP` and the pcap files its
//! samples are written to. Each file is created (truncated) when the session is loaded, before
//! any probe is attached, with pcap's header (link type RAW, as bpftrace writes it: no
//! Ethernet header); each sample becomes one packet, stamped with the time it was sent
//! (the kernel's boot time plus the sample's time since boot). Writes are flushed after every
//! batch, so the file is whole however the run ends (a signal included).
//!
//! The format (libpcap's "savefile", microsecond timestamps) is small enough to write here: a
//! 24-byte file header, then per packet a 16-byte header and the bytes.

use super::decode::{clock_ns, read_u64};
use super::{Result, RuntimeError};
use crate::plan::{self, Plan};
use libbpf_rs::{MapCore, Object, PerfBuffer, PerfBufferBuilder};
use std::cell::RefCell;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::rc::Rc;

/// pcap's magic number (microsecond timestamps), written in the host's byte order.
const MAGIC: u32 = 0xa1b2_c3d4;
/// LINKTYPE_RAW: each packet starts with its IPv4 or IPv6 header.
const LINKTYPE_RAW: u32 = 101;
/// The largest packet the header announces, as libpcap's `pcap_open_dead(DLT_RAW, 65535)`.
const SNAPLEN: u32 = 65535;

/// The perf buffer and where its samples go.
pub struct SkbOutput {
    perf: PerfBuffer<'static>,
    files: Rc<RefCell<Files>>,
}

impl SkbOutput {
    /// The perf buffer of `object`'s `SKB_OUTPUT_MAP` (`pages` per CPU) and the plan's pcap
    /// files, created; `None` when the plan calls no `skboutput()`.
    pub fn open(object: &Object, plan: &Plan, pages: usize) -> Result<Option<SkbOutput>> {
        if plan.skb_outputs.is_empty() {
            return Ok(None);
        }
        let files = Rc::new(RefCell::new(Files::create(plan)?));
        let Some(map) = object.maps().find(|m| m.name() == plan::SKB_OUTPUT_MAP) else {
            return Err(RuntimeError::new(format!("internal error: map {} missing from the object", plan::SKB_OUTPUT_MAP)));
        };
        let (samples, lost) = (files.clone(), files.clone());
        let perf = PerfBufferBuilder::new(&map)
            .pages(pages.max(1).next_power_of_two())
            .sample_cb(move |_cpu, data: &[u8]| samples.borrow_mut().sample(data))
            .lost_cb(move |_cpu, n| lost.borrow_mut().lost += n)
            .build()
            .map_err(|e| RuntimeError::new(format!("cannot set up skboutput()'s perf buffer: {e}")))?;
        Ok(Some(SkbOutput { perf, files }))
    }

    /// The descriptor to poll for samples.
    pub fn epoll_fd(&self) -> i32 {
        self.perf.epoll_fd()
    }

    /// Writes every sample the perf buffer holds, flushes the files, and returns how many
    /// samples the kernel dropped since the last call (the buffer was full).
    pub fn consume(&mut self) -> u64 {
        let _ = self.perf.consume();
        let mut files = self.files.borrow_mut();
        files.flush();
        std::mem::take(&mut files.lost)
    }

    /// At the end: what the remaining samples were written, the files closed; the first
    /// write that failed, if one did.
    pub fn close(mut self) -> std::result::Result<(), String> {
        self.consume();
        let files = self.files.borrow();
        match &files.error {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }
}

/// The open pcap files, and which one each `skboutput()` call writes to.
struct Files {
    /// One per distinct path, in the plan's order.
    files: Vec<(String, BufWriter<File>)>,
    /// Per plan entry (`Plan::skb_outputs`): its file's index in `files` and its offset.
    calls: Vec<(usize, u64)>,
    /// The wall-clock time of boot, ns (CLOCK_REALTIME − CLOCK_BOOTTIME): the samples carry
    /// `bpf_ktime_get_boot_ns`.
    boot_ns: u64,
    /// Samples the kernel dropped, not yet reported.
    lost: u64,
    /// The first write that failed (writing stops then).
    error: Option<String>,
}

impl Files {
    fn create(plan: &Plan) -> Result<Files> {
        let mut files: Vec<(String, BufWriter<File>)> = Vec::new();
        let mut calls = Vec::new();
        for def in &plan.skb_outputs {
            let index = match files.iter().position(|(path, _)| *path == def.path) {
                Some(i) => i,
                None => {
                    let error = |e: io::Error| RuntimeError::new(format!("cannot create pcap file {}: {e}", def.path));
                    let mut file = BufWriter::new(File::create(&def.path).map_err(error)?);
                    write_file_header(&mut file).and_then(|_| file.flush()).map_err(error)?;
                    files.push((def.path.clone(), file));
                    files.len() - 1
                }
            };
            calls.push((index, def.offset));
        }
        let boot_ns = clock_ns(libc::CLOCK_REALTIME).wrapping_sub(clock_ns(libc::CLOCK_BOOTTIME));
        Ok(Files { files, calls, boot_ns, lost: 0, error: None })
    }

    /// One sample (`plan::SKB_OUTPUT_HEADER`, then the packet and the perf buffer's padding):
    /// the packet's bytes past the call's offset, as one packet of its file. A packet with
    /// nothing past the offset is not written (as bpftrace does).
    fn sample(&mut self, data: &[u8]) {
        let Some(header) = data.get(..plan::SKB_OUTPUT_HEADER) else { return };
        let (id, ns, len) = (read_u64(header), read_u64(&header[8..]), read_u64(&header[16..]));
        let Some(&(index, offset)) = usize::try_from(id).ok().and_then(|id| self.calls.get(id)) else { return };
        let body = &data[plan::SKB_OUTPUT_HEADER..];
        let packet = &body[..body.len().min(usize::try_from(len).unwrap_or(usize::MAX))];
        let Some(packet) = usize::try_from(offset).ok().and_then(|o| packet.get(o..)).filter(|p| !p.is_empty()) else {
            return;
        };
        if self.error.is_some() {
            return;
        }
        let (path, file) = &mut self.files[index];
        if let Err(e) = write_packet(file, self.boot_ns.wrapping_add(ns), packet) {
            self.error = Some(format!("cannot write pcap file {path}: {e}"));
        }
    }

    fn flush(&mut self) {
        for (path, file) in &mut self.files {
            if let Err(e) = file.flush() {
                self.error.get_or_insert_with(|| format!("cannot write pcap file {path}: {e}"));
            }
        }
    }
}

/// pcap's file header: magic, version 2.4, time zone and accuracy 0, snap length, link type.
fn write_file_header(out: &mut impl Write) -> io::Result<()> {
    let mut header = Vec::with_capacity(24);
    header.extend_from_slice(&MAGIC.to_ne_bytes());
    header.extend_from_slice(&2u16.to_ne_bytes());
    header.extend_from_slice(&4u16.to_ne_bytes());
    header.extend_from_slice(&0i32.to_ne_bytes());
    header.extend_from_slice(&0u32.to_ne_bytes());
    header.extend_from_slice(&SNAPLEN.to_ne_bytes());
    header.extend_from_slice(&LINKTYPE_RAW.to_ne_bytes());
    out.write_all(&header)
}

/// One packet: its time (`ns` since the epoch, in seconds and microseconds), its captured and
/// original lengths (both the bytes written, as bpftrace writes them), the bytes.
fn write_packet(out: &mut impl Write, ns: u64, packet: &[u8]) -> io::Result<()> {
    let len = u32::try_from(packet.len()).unwrap_or(u32::MAX);
    let mut header = [0u8; 16];
    header[..4].copy_from_slice(&((ns / 1_000_000_000) as u32).to_ne_bytes());
    header[4..8].copy_from_slice(&((ns % 1_000_000_000 / 1000) as u32).to_ne_bytes());
    header[8..12].copy_from_slice(&len.to_ne_bytes());
    header[12..].copy_from_slice(&len.to_ne_bytes());
    out.write_all(&header)?;
    out.write_all(&packet[..len as usize])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The layout libpcap reads (pcap-savefile(5)), checked byte by byte on a little-endian
    /// host: a file header, then one packet of 3 bytes at 5.000007 s.
    #[test]
    fn file_layout() {
        let mut out = Vec::new();
        write_file_header(&mut out).unwrap();
        write_packet(&mut out, 5_000_007_999, &[0x45, 1, 2]).unwrap();
        #[rustfmt::skip]
        let want: Vec<u8> = vec![
            0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 101, 0, 0, 0,
            5, 0, 0, 0, 7, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0, 0x45, 1, 2,
        ];
        if cfg!(target_endian = "little") {
            assert_eq!(out, want);
        }
    }

    /// A sample's packet: cut to the length asked for (the perf buffer pads samples to 8
    /// bytes), then the offset skipped; nothing past the offset: no packet.
    #[test]
    fn samples_cut_to_length_and_offset() {
        let path = std::env::temp_dir().join(format!("rtrace-pcap-test-{}.pcap", std::process::id()));
        let plan = Plan {
            skb_outputs: vec![
                plan::SkbOutputDef { path: path.to_string_lossy().into_owned(), offset: 0 },
                plan::SkbOutputDef { path: path.to_string_lossy().into_owned(), offset: 2 },
            ],
            ..Plan::default()
        };
        let mut files = Files::create(&plan).unwrap();
        files.boot_ns = 0;
        let sample = |id: u64, len: u64| {
            let mut s = Vec::new();
            for v in [id, 1_000_000_000, len] {
                s.extend_from_slice(&v.to_le_bytes());
            }
            s.extend_from_slice(&[0x45, 9, 8, 0, 0, 0, 0, 0]);
            s
        };
        files.sample(&sample(0, 3));
        files.sample(&sample(1, 3));
        files.sample(&sample(1, 2));
        files.flush();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(bytes.len(), 24 + 16 + 3 + 16 + 1);
        assert_eq!(&bytes[24 + 16..24 + 16 + 3], &[0x45, 9, 8]);
        assert_eq!(bytes[24 + 8..24 + 12], 3u32.to_ne_bytes());
        assert_eq!(bytes[24 + 16 + 3 + 8..24 + 16 + 3 + 12], 1u32.to_ne_bytes());
        assert_eq!(bytes[bytes.len() - 1], 8);
    }
}
