//! The `agenthost` front's memory allocator: a bump arena in front of the system allocator.
//!
//! The front (`agenthost sandbox`) allocates about a thousand small blocks while it reads
//! the spec and configuration and builds the plan, then waits for the sandboxed command.
//! glibc's `malloc` was about 3.5% of the front's time in `perf` (its first-use set-up,
//! `brk`, consolidation and the calls themselves; docs/sandbox-performance.md). The arena
//! hands out consecutive pieces of one anonymous mapping instead. A freed small block (up
//! to 2 KiB) goes on its size class's free list and serves the next request of that class,
//! so the front touches about as many pages as with glibc; a freed large block goes back
//! only when it is the newest (a growing `Vec`). The mapping is address space until
//! touched.
//!
//! Whatever does not fit, and everything before [`BumpArena::map`] or when mapping failed,
//! goes to the system allocator; every free and resize finds its owner by address. The
//! core (`agenthost-core`, with its long-running supervisor) keeps the system allocator:
//! an arena that never returns memory only suits a process that allocates once and then
//! waits.
// `unsafe` here: implementing `GlobalAlloc` (an unsafe trait), mapping the arena, and
// deriving block pointers from it.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};

/// The address space the front maps for its arena; pages are only backed once touched.
pub const FRONT_ARENA_BYTES: usize = 512 * 1024;

/// A bump allocator with size-class free lists over one anonymous mapping, falling back to
/// [`System`]; see the module documentation. Safe to share between threads (the bump is a
/// compare-and-swap, the free lists sit behind a spin lock).
#[derive(Debug)]
pub struct BumpArena {
    /// Start of the mapping; null until [`BumpArena::map`] succeeds (published last).
    base: AtomicPtr<u8>,
    /// Length of the mapping in bytes.
    len: AtomicUsize,
    /// Offset of the first byte not handed out.
    used: AtomicUsize,
    /// Freed small blocks, one list per size class, linked through their first word.
    free: [AtomicPtr<u8>; CLASSES],
    /// Held while a free list is read or changed.
    free_lock: AtomicBool,
}

/// Blocks up to this size (with an alignment up to [`GRAIN`]) are rounded up to a size
/// class and reused from its free list once freed; larger ones are only taken back when
/// they are the newest.
const SMALL_LIMIT: usize = 2048;
/// The step between size classes, and the alignment of small blocks.
const GRAIN: usize = 16;
/// The number of size classes.
const CLASSES: usize = SMALL_LIMIT / GRAIN;

/// The size class of `layout`, when it is small.
fn class_of(layout: Layout) -> Option<usize> {
    (layout.size() <= SMALL_LIMIT && layout.align() <= GRAIN)
        .then(|| layout.size().max(1).div_ceil(GRAIN) - 1)
}

/// The block size of a size class.
const fn class_size(class: usize) -> usize {
    (class + 1) * GRAIN
}

impl BumpArena {
    /// An arena without memory: every allocation goes to the system allocator until
    /// [`BumpArena::map`] gives it some.
    pub const fn new() -> Self {
        Self {
            base: AtomicPtr::new(std::ptr::null_mut()),
            len: AtomicUsize::new(0),
            used: AtomicUsize::new(0),
            free: [const { AtomicPtr::new(std::ptr::null_mut()) }; CLASSES],
            free_lock: AtomicBool::new(false),
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

    /// Runs `f` on the free lists, alone.
    fn with_free_lists<R>(&self, f: impl FnOnce(&[AtomicPtr<u8>; CLASSES]) -> R) -> R {
        while self
            .free_lock
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            std::hint::spin_loop();
        }
        let answer = f(&self.free);
        self.free_lock.store(false, Ordering::Release);
        answer
    }

    /// A freed block of `class`, when there is one.
    fn reuse(&self, class: usize) -> Option<*mut u8> {
        self.with_free_lists(|free| {
            let head = free[class].load(Ordering::Relaxed);
            if head.is_null() {
                return None;
            }
            // SAFETY: a block on a free list is at least GRAIN bytes, GRAIN-aligned, and
            // holds the next block's address in its first word (written by `release`).
            let next = unsafe { head.cast::<*mut u8>().read() };
            free[class].store(next, Ordering::Relaxed);
            Some(head)
        })
    }

    /// Puts a freed arena block of `class` on its free list.
    fn release(&self, class: usize, block: *mut u8) {
        self.with_free_lists(|free| {
            // SAFETY: `block` is an arena block of at least `class_size(class)` bytes,
            // GRAIN-aligned, that its owner gave back: its first word is ours.
            unsafe {
                block
                    .cast::<*mut u8>()
                    .write(free[class].load(Ordering::Relaxed))
            };
            free[class].store(block, Ordering::Relaxed);
        });
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

// SAFETY: blocks from the arena never overlap: each is carved once from the range between
// two successive values of `used` (taken by compare-and-swap), and is handed out again only
// after its owner freed it: from a free list (small blocks, whose size is rounded up to
// their class, so a reused block is at least as large as any request of that class), or
// by `used` going back over it when it is the newest. Everything else is the system
// allocator's, found by address.
unsafe impl GlobalAlloc for BumpArena {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let block = match class_of(layout) {
            Some(class) => self.reuse(class).or_else(|| {
                // Rounded up to the class, so that the block can serve the whole class.
                self.bump(Layout::from_size_align(class_size(class), GRAIN).ok()?)
            }),
            // At least GRAIN-aligned too: shrunk in place and freed, a large block joins a
            // small class's free list.
            None => layout
                .align_to(GRAIN)
                .ok()
                .and_then(|aligned| self.bump(aligned)),
        };
        match block {
            Some(ptr) => ptr,
            // SAFETY: the caller's contract (a non-zero size) is passed on unchanged.
            None => unsafe { System.alloc(layout) },
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let Some(offset) = self.offset_of(ptr) else {
            // SAFETY: not the arena's, so the system allocator handed it out with `layout`.
            return unsafe { System.dealloc(ptr, layout) };
        };
        match class_of(layout) {
            Some(class) => self.release(class, ptr),
            // A large block goes back only when it is the newest.
            None => {
                let _ = self.used.compare_exchange(
                    offset + layout.size(),
                    offset,
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                );
            }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let Some(offset) = self.offset_of(ptr) else {
            // SAFETY: not the arena's, so the system allocator handed it out with `layout`.
            return unsafe { System.realloc(ptr, layout, new_size) };
        };
        let Ok(new_layout) = Layout::from_size_align(new_size, layout.align()) else {
            return std::ptr::null_mut();
        };
        // What the block is known to hold, and what the new size needs.
        let holds = class_of(layout).map_or(layout.size(), class_size);
        let needs = class_of(new_layout).map_or(new_size, class_size);
        if needs <= holds {
            return ptr;
        }
        // The newest block grows where it is, when the arena has room.
        let fits = offset
            .checked_add(needs)
            .zip(self.mapping())
            .is_some_and(|(end, (_, len))| end <= len);
        if fits
            && self
                .used
                .compare_exchange(
                    offset + holds,
                    offset + needs,
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                )
                .is_ok()
        {
            return ptr;
        }
        // SAFETY: `new_layout` has the caller's alignment and a non-zero size.
        let moved = unsafe { self.alloc(new_layout) };
        if !moved.is_null() {
            // SAFETY: both blocks are valid for `layout.size()` bytes (the new one is
            // larger) and distinct (the new one was handed out while the old one is live).
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

    impl BumpArena {
        /// How many bytes of the arena are handed out (including alignment padding).
        fn used(&self) -> usize {
            self.used.load(Ordering::Acquire)
        }
    }

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
    fn a_freed_small_block_serves_the_next_request_of_its_size_class_only() {
        let arena = arena(8192);
        let a = unsafe { arena.alloc(layout(24, 8)) };
        let _b = unsafe { arena.alloc(layout(24, 8)) };
        unsafe { arena.dealloc(a, layout(24, 8)) };
        // 40 bytes is another class (48): a new block.
        let other = unsafe { arena.alloc(layout(40, 8)) };
        assert_ne!(other, a);
        // 17 to 32 bytes is a's class: a again, and nothing new carved.
        let used = arena.used();
        let again = unsafe { arena.alloc(layout(30, 4)) };
        assert_eq!(again, a);
        assert_eq!(arena.used(), used);
    }

    #[test]
    fn only_the_newest_large_block_is_taken_back() {
        let arena = arena(64 * 1024);
        let big = layout(5000, 8);
        let a = unsafe { arena.alloc(big) };
        let b = unsafe { arena.alloc(big) };
        let after_b = arena.used();
        unsafe { arena.dealloc(a, big) };
        assert_eq!(arena.used(), after_b, "an older block stays handed out");
        unsafe { arena.dealloc(b, big) };
        assert_eq!(arena.used(), b.addr() - arena.mapping().unwrap().0.addr());
        let again = unsafe { arena.alloc(big) };
        assert_eq!(again, b, "the next allocation reuses the newest");
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
            // Mostly a few small classes, so that freed blocks are reused often.
            (prop_oneof![3 => 1usize..64, 1 => 1usize..5000], 0u32..7)
                .prop_map(|(size, align_log2)| Step::Alloc { size, align_log2 }),
            any::<usize>().prop_map(Step::Free),
            (
                any::<usize>(),
                prop_oneof![3 => 1usize..64, 1 => 1usize..6000]
            )
                .prop_map(|(i, size)| Step::Resize(i, size)),
        ]
    }

    proptest! {
        /// Every live block keeps its own bytes whatever else happens: no two blocks
        /// overlap, reused blocks are large enough, and moves copy. Small and large blocks,
        /// in an arena small enough that blocks also spill to the system allocator and
        /// move back and forth.
        #[test]
        fn live_blocks_never_overlap_and_keep_their_bytes(steps in prop::collection::vec(step(), 1..120)) {
            let arena = arena(32 * 1024);
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
