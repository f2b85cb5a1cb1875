//! Fresh randomness for a guest made from a VM template. Every VM restored
//! from one template starts with the template's random pool, so before the
//! first container runs, the agent mixes bytes from the host (virtio-rng,
//! /dev/hwrng) into the pool and makes the kernel reseed its CRNG: from then
//! on, no two clones draw the same random numbers.
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::fd::AsRawFd;

use thiserror::Error;

const HWRNG: &str = "/dev/hwrng";
const SEED_BYTES: usize = 64;

#[derive(Debug, Error)]
pub enum EntropyError {
    #[error("read {HWRNG}: {0}")]
    Source(std::io::Error),
    #[error("open /dev/urandom: {0}")]
    Pool(std::io::Error),
    #[error("{0} on /dev/urandom: {1}")]
    Ioctl(&'static str, nix::Error),
}

/// `struct rand_pool_info` with room for SEED_BYTES (linux/random.h).
#[repr(C)]
struct PoolInfo {
    entropy_count: libc::c_int,
    buf_size: libc::c_int,
    buf: [u8; SEED_BYTES],
}

// RNDADDENTROPY = _IOW('R', 0x03, int[2]); RNDRESEEDCRNG = _IO('R', 0x07).
nix::ioctl_write_ptr_bad!(rnd_add_entropy, 0x4008_5203, PoolInfo);
nix::ioctl_none_bad!(rnd_reseed_crng, 0x5207);

/// Checks that the host's generator can be read, so that a template whose
/// clones could not be reseeded is never made.
pub fn check_source() -> Result<(), EntropyError> {
    let mut one = [0u8; 1];
    File::open(HWRNG).and_then(|mut f| f.read_exact(&mut one)).map_err(EntropyError::Source)
}

/// Credits SEED_BYTES from the host's generator to the pool and reseeds.
pub fn reseed_from_host() -> Result<(), EntropyError> {
    let mut seed = [0u8; SEED_BYTES];
    File::open(HWRNG).and_then(|mut f| f.read_exact(&mut seed)).map_err(EntropyError::Source)?;
    let pool = OpenOptions::new().write(true).open("/dev/urandom").map_err(EntropyError::Pool)?;
    let info = PoolInfo { entropy_count: (SEED_BYTES * 8) as libc::c_int, buf_size: SEED_BYTES as libc::c_int, buf: seed };
    // SAFETY: `info` is a valid rand_pool_info whose buf_size matches its buffer.
    unsafe { rnd_add_entropy(pool.as_raw_fd(), &info) }.map_err(|e| EntropyError::Ioctl("RNDADDENTROPY", e))?;
    // SAFETY: RNDRESEEDCRNG takes no argument.
    unsafe { rnd_reseed_crng(pool.as_raw_fd()) }.map_err(|e| EntropyError::Ioctl("RNDRESEEDCRNG", e))?;
    Ok(())
}
