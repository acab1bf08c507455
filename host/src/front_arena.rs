//! The `agenthost` front's memory allocator: a bump arena in front of the system allocator.
//!
//! The front (`agenthost sandbox`) allocates about a thousand small blocks while it reads
//! the spec and configuration and builds the plan, then waits for the sandboxed command.
//! glibc's `malloc` spent about 0.1 ms of a sandboxed `true` on that (its first-use set-up,
//! `brk`, consolidation and the calls themselves; docs/sandbox-performance.md). The arena
//! hands out consecutive pieces of one anonymous mapping instead, and takes back only the
//! newest block (so a growing `Vec` or a `String` built and dropped reuses its space);
//! other frees are no-ops. The mapping is address space until touched: the front touches
//! a few dozen pages of it.
//!
//! Whatever does not fit, and everything before [`BumpArena::map`] or when mapping failed,
//! goes to the system allocator; every free and resize finds its owner by address. The
//! core (`agenthost-core`, with its long-running supervisor) keeps the system allocator:
//! an arena that never reuses older blocks only suits a process that allocates once and
//! then waits.
// `unsafe` here: implementing `GlobalAlloc` (an unsafe trait), mapping the arena, and
// deriving block pointers from it.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

/// The address space the front maps for its arena; pages are only backed once touched.
pub const FRONT_ARENA_BYTES: usize = 512 * 1024;

/// A bump allocator over one anonymous mapping, falling back to [`System`]; see the module
/// documentation. Safe to share between threads (every update is a compare-and-swap).
#[derive(Debug)]
pub struct BumpArena {
    /// Start of the mapping; null until [`BumpArena::map`] succeeds (published last).
    base: AtomicPtr<u8>,
    /// Length of the mapping in bytes.
    len: AtomicUsize,
    /// Offset of the first byte not handed out.
    used: AtomicUsize,
}

impl BumpArena {
    /// An arena without memory: every allocation goes to the system allocator until
    /// [`BumpArena::map`] gives it some.
    pub const fn new() -> Self {
        Self {
            base: AtomicPtr::new(std::ptr::null_mut()),
            len: AtomicUsize::new(0),
            used: AtomicUsize::new(0),
        }
    }

    /// Maps `len` bytes of fresh anonymous memory for the arena. Returns false, and leaves
    /// the arena as it was, when it already has memory or the kernel refuses the mapping
    /// (allocations then keep going to the system allocator).
    pub fn map(&self, len: usize) -> bool {
        if len == 0 || !self.base.load(Ordering::Acquire).is_null() {
            return false;
        }
        // SAFETY: a private anonymous mapping with no address hint and no file: it touches
        // no memory the program already uses.
        let mapped = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if mapped == libc::MAP_FAILED {
            return false;
        }
        // `len` is written before `base` is published, so whoever sees `base` sees `len`.
        self.len.store(len, Ordering::Relaxed);
        if self
            .base
            .compare_exchange(
                std::ptr::null_mut(),
                mapped.cast::<u8>(),
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_err()
        {
            // Another thread mapped one first (and wrote the same `len` field: only a
            // caller racing itself gets here). Give this mapping back.
            // SAFETY: `mapped` is the mapping of `len` bytes made above, never handed out.
            unsafe { libc::munmap(mapped, len) };
            return false;
        }
        true
    }

    /// How many bytes of the arena are handed out (including alignment padding).
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }

    /// The arena's mapping and length, once mapped.
    fn mapping(&self) -> Option<(*mut u8, usize)> {
        let base = self.base.load(Ordering::Acquire);
        (!base.is_null()).then(|| (base, self.len.load(Ordering::Relaxed)))
    }

    /// The offset of `ptr` in the arena, when the arena handed it out.
    fn offset_of(&self, ptr: *mut u8) -> Option<usize> {
        let (base, len) = self.mapping()?;
        // Below `base` the subtraction wraps to a number far past `len`.
        let offset = ptr.addr().wrapping_sub(base.addr());
        (offset < len).then_some(offset)
    }

    /// Hands out `layout` from the arena, or returns None when it does not fit.
    fn bump(&self, layout: Layout) -> Option<*mut u8> {
        let (base, len) = self.mapping()?;
        let mut used = self.used.load(Ordering::Acquire);
        loop {
            // Aligned by address, so that alignments above the page size hold too.
            let start = base
                .addr()
                .checked_add(used)?
                .checked_next_multiple_of(layout.align())?
                - base.addr();
            let end = start.checked_add(layout.size())?;
            if end > len {
                return None;
            }
            match self
                .used
                .compare_exchange_weak(used, end, Ordering::AcqRel, Ordering::Acquire)
            {
                // SAFETY: `start <= end <= len`: the result stays inside the mapping.
                Ok(_) => return Some(unsafe { base.add(start) }),
                Err(seen) => used = seen,
            }
        }
    }
}

impl Drop for BumpArena {
    /// Gives the mapping back. (The front's arena is a `static`, which is never dropped.)
    fn drop(&mut self) {
        if let Some((base, len)) = self.mapping() {
            // SAFETY: `base` and `len` are the mapping made in `map`; `&mut self` means no
            // allocation is in progress, and blocks cannot outlive their allocator.
            unsafe { libc::munmap(base.cast(), len) };
        }
    }
}

impl Default for BumpArena {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: blocks from the arena never overlap: each is the range between two successive
// values of `used`, taken by compare-and-swap, and `used` only goes back (in `dealloc` and
// `realloc`) over the one block that ends where it stands. Everything else is the system
// allocator's, found by address.
unsafe impl GlobalAlloc for BumpArena {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match self.bump(layout) {
            Some(ptr) => ptr,
            // SAFETY: the caller's contract (a non-zero size) is passed on unchanged.
            None => unsafe { System.alloc(layout) },
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        match self.offset_of(ptr) {
            // Only the newest block goes back: the next allocation starts where it began.
            Some(offset) => {
                let _ = self.used.compare_exchange(
                    offset + layout.size(),
                    offset,
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                );
            }
            // SAFETY: not the arena's, so the system allocator handed it out with `layout`.
            None => unsafe { System.dealloc(ptr, layout) },
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let Some(offset) = self.offset_of(ptr) else {
            // SAFETY: not the arena's, so the system allocator handed it out with `layout`.
            return unsafe { System.realloc(ptr, layout, new_size) };
        };
        // The newest block grows or shrinks where it is, when the arena has room.
        let fits = offset
            .checked_add(new_size)
            .zip(self.mapping())
            .is_some_and(|(end, (_, len))| end <= len);
        if fits
            && self
                .used
                .compare_exchange(
                    offset + layout.size(),
                    offset + new_size,
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                )
                .is_ok()
        {
            return ptr;
        }
        // An older block shrinks in place (its tail is simply not used again).
        if new_size <= layout.size() {
            return ptr;
        }
        let Ok(grown) = Layout::from_size_align(new_size, layout.align()) else {
            return std::ptr::null_mut();
        };
        // SAFETY: `grown` has the caller's alignment and a size above the old non-zero one.
        let moved = unsafe { self.alloc(grown) };
        if !moved.is_null() {
            // SAFETY: both blocks are valid for `layout.size()` bytes and distinct (the new
            // one was handed out while the old one is still live).
            unsafe {
                std::ptr::copy_nonoverlapping(ptr, moved, layout.size());
                self.dealloc(ptr, layout);
            }
        }
        moved
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).unwrap()
    }

    fn arena(len: usize) -> BumpArena {
        let arena = BumpArena::new();
        assert!(arena.map(len));
        arena
    }

    fn is_inside(arena: &BumpArena, ptr: *mut u8) -> bool {
        arena.offset_of(ptr).is_some()
    }

    #[test]
    fn blocks_are_aligned_distinct_and_inside_the_mapping() {
        let arena = arena(64 * 1024);
        let a = unsafe { arena.alloc(layout(3, 1)) };
        let b = unsafe { arena.alloc(layout(16, 16)) };
        let c = unsafe { arena.alloc(layout(8192, 8192)) };
        for (ptr, align) in [(a, 1), (b, 16), (c, 8192)] {
            assert!(is_inside(&arena, ptr));
            assert_eq!(ptr.addr() % align, 0);
        }
        assert!(b.addr() >= a.addr() + 3);
        assert!(c.addr() >= b.addr() + 16);
        unsafe {
            a.write_bytes(0xaa, 3);
            b.write_bytes(0xbb, 16);
            c.write_bytes(0xcc, 8192);
            assert_eq!(*a.add(2), 0xaa);
            assert_eq!(*b.add(15), 0xbb);
        }
    }

    #[test]
    fn only_the_newest_block_is_taken_back() {
        let arena = arena(4096);
        let a = unsafe { arena.alloc(layout(100, 8)) };
        let b = unsafe { arena.alloc(layout(100, 8)) };
        let after_b = arena.used();
        unsafe { arena.dealloc(a, layout(100, 8)) };
        assert_eq!(arena.used(), after_b, "an older block stays handed out");
        unsafe { arena.dealloc(b, layout(100, 8)) };
        assert_eq!(
            arena.used(),
            b.addr() - a.addr(),
            "the newest block goes back"
        );
        let again = unsafe { arena.alloc(layout(100, 8)) };
        assert_eq!(again, b, "the next allocation reuses it");
    }

    #[test]
    fn the_newest_block_grows_in_place_an_older_one_moves_with_its_bytes() {
        let arena = arena(4096);
        let old = unsafe { arena.alloc(layout(8, 8)) };
        unsafe { old.copy_from_nonoverlapping(b"abcdefgh".as_ptr(), 8) };
        let newest = unsafe { arena.alloc(layout(8, 8)) };
        let grown = unsafe { arena.realloc(newest, layout(8, 8), 64) };
        assert_eq!(grown, newest);
        let moved = unsafe { arena.realloc(old, layout(8, 8), 32) };
        assert_ne!(moved, old);
        assert!(is_inside(&arena, moved));
        assert_eq!(unsafe { std::slice::from_raw_parts(moved, 8) }, b"abcdefgh");
        let shrunk = unsafe { arena.realloc(grown, layout(64, 8), 4) };
        assert_eq!(shrunk, grown, "shrinking never moves a block");
    }

    #[test]
    fn what_does_not_fit_goes_to_the_system_allocator_and_comes_back_to_it() {
        let arena = arena(4096);
        let inside = unsafe { arena.alloc(layout(4000, 8)) };
        assert!(is_inside(&arena, inside));
        unsafe { inside.copy_from_nonoverlapping(b"kept".as_ptr(), 4) };
        let outside = unsafe { arena.alloc(layout(4000, 8)) };
        assert!(!outside.is_null());
        assert!(!is_inside(&arena, outside));
        // Growing past the arena's end moves the block to the system allocator, bytes kept.
        let moved = unsafe { arena.realloc(inside, layout(4000, 8), 10_000) };
        assert!(!is_inside(&arena, moved));
        assert_eq!(unsafe { std::slice::from_raw_parts(moved, 4) }, b"kept");
        let moved = unsafe { arena.realloc(moved, layout(10_000, 8), 20_000) };
        assert_eq!(unsafe { std::slice::from_raw_parts(moved, 4) }, b"kept");
        unsafe {
            arena.dealloc(moved, layout(20_000, 8));
            arena.dealloc(outside, layout(4000, 8));
        }
    }

    #[test]
    fn an_arena_without_memory_is_the_system_allocator() {
        let arena = BumpArena::new();
        let ptr = unsafe { arena.alloc(layout(32, 8)) };
        assert!(!ptr.is_null());
        assert!(!is_inside(&arena, ptr));
        let ptr = unsafe { arena.realloc(ptr, layout(32, 8), 64) };
        unsafe { arena.dealloc(ptr, layout(64, 8)) };
        assert_eq!(arena.used(), 0);
    }

    #[test]
    fn an_arena_is_mapped_once() {
        let arena = arena(4096);
        assert!(!arena.map(4096));
        assert!(!BumpArena::new().map(0));
    }

    /// One step of a random workload: allocate, free or resize the block at an index.
    #[derive(Debug, Clone)]
    enum Step {
        Alloc { size: usize, align_log2: u32 },
        Free(usize),
        Resize(usize, usize),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (1usize..600, 0u32..7).prop_map(|(size, align_log2)| Step::Alloc { size, align_log2 }),
            any::<usize>().prop_map(Step::Free),
            (any::<usize>(), 1usize..900).prop_map(|(i, size)| Step::Resize(i, size)),
        ]
    }

    proptest! {
        /// Every live block keeps its own bytes whatever else happens: no two blocks
        /// overlap, and moves copy. A small arena, so that blocks also spill to the system
        /// allocator and move back and forth.
        #[test]
        fn live_blocks_never_overlap_and_keep_their_bytes(steps in prop::collection::vec(step(), 1..120)) {
            let arena = arena(8192);
            // (pointer, layout, fill byte)
            let mut live: Vec<(*mut u8, Layout, u8)> = Vec::new();
            for (n, step) in steps.into_iter().enumerate() {
                let fill = (n % 251) as u8 + 1;
                match step {
                    Step::Alloc { size, align_log2 } => {
                        let l = layout(size, 1 << align_log2);
                        let ptr = unsafe { arena.alloc(l) };
                        prop_assert!(!ptr.is_null());
                        prop_assert_eq!(ptr.addr() % l.align(), 0);
                        unsafe { ptr.write_bytes(fill, size) };
                        live.push((ptr, l, fill));
                    }
                    Step::Free(i) if !live.is_empty() => {
                        let (ptr, l, _) = live.swap_remove(i % live.len());
                        unsafe { arena.dealloc(ptr, l) };
                    }
                    Step::Resize(i, size) if !live.is_empty() => {
                        let i = i % live.len();
                        let (ptr, l, old_fill) = live[i];
                        let ptr = unsafe { arena.realloc(ptr, l, size) };
                        prop_assert!(!ptr.is_null());
                        let kept = l.size().min(size);
                        let bytes = unsafe { std::slice::from_raw_parts(ptr, kept) };
                        prop_assert!(bytes.iter().all(|&b| b == old_fill));
                        unsafe { ptr.write_bytes(fill, size) };
                        live[i] = (ptr, layout(size, l.align()), fill);
                    }
                    _ => {}
                }
                for &(ptr, l, fill) in &live {
                    let bytes = unsafe { std::slice::from_raw_parts(ptr, l.size()) };
                    prop_assert!(bytes.iter().all(|&b| b == fill), "a live block was overwritten");
                }
            }
            for (ptr, l, _) in live {
                unsafe { arena.dealloc(ptr, l) };
            }
        }
    }
}
