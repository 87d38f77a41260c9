using System.Collections.Concurrent;
using CocoLaunch.Abi;

namespace CocoLaunch.Memory;

/// <summary>
/// 4 KiB pages that exist once allocated or written. An allocated page that was never written holds
/// no bytes (it reads as zeros, like a freshly zeroed page), so a fault-in of a 64 GiB guest costs
/// bits, not gigabytes; only written pages carry data.
/// </summary>
/// <remarks>
/// Written data lives in 128 KiB chunks of 32 pages, allocated outside the GC heap: guest page contents hold
/// no references, and keeping tens of megabytes of them away from the collector spares it from scanning and
/// zeroing them (the native allocator hands back pages the kernel zeroes on first touch).
/// A page can also be lent read-only bytes (<see cref="Lend"/>): a firmware image's page that SNP_LAUNCH_UPDATE
/// copies into guest_memfd reads as the image's own bytes until it is first written, so the image is held once.
/// </remarks>
public sealed class SparsePageStore
{
    private const int PageSize = (int)Abi.PageSize.Size4K;
    private const int ChunkPages = 32;
    private const int ChunkBytes = ChunkPages * PageSize;
    private readonly ConcurrentDictionary<ulong, Chunk> chunks = new();
    private readonly AllocationBitmap allocated = new();

    /// <summary>Pages that exist (allocated or written).</summary>
    public long PageCount => allocated.Count;

    /// <summary>Pages holding written data.</summary>
    public int DataPageCount => chunks.Values.Sum(c => System.Numerics.BitOperations.PopCount(c.Written));

    /// <summary>Bytes held for page contents (not counting the index).</summary>
    public long BytesInUse => (long)chunks.Count * ChunkBytes;

    /// <summary>What the pages that come to exist are charged to; null charges nothing.</summary>
    public HostMemoryLimit? Limit { get; internal set; }

    public bool Contains(ulong index) => allocated.Contains(index);

    /// <summary>Makes the page exist (zero-filled) without writing it, as fallocate or a fault does.</summary>
    public void Allocate(ulong index) => Materialise(index, 1);

    /// <summary>Allocates [first, first + count) with one bitmap update per 64 pages.</summary>
    public void AllocateRange(ulong first, ulong count) => Materialise(first, count);

    /// <summary>
    /// Makes pages exist, charging those that did not to <see cref="Limit"/> first: over the limit, none is made
    /// and <see cref="HostMemoryLimitException"/> says so. A page two threads make at once is charged once.
    /// </summary>
    private void Materialise(ulong first, ulong count)
    {
        if (Limit is not { } limit)
        {
            allocated.SetRange(first, count);
            return;
        }

        ulong absent = count - allocated.CountRange(first, count);
        if (absent == 0)
        {
            return;
        }

        limit.Charge(absent, first);
        limit.Uncharge(absent - allocated.SetRange(first, count));
    }

    public void Remove(ulong index) => RemoveRange(index, 1);

    /// <summary>Drops every page in [first, first + count) that exists: its data and its existence.</summary>
    public void RemoveRange(ulong first, ulong count)
    {
        ulong end = first + count;
        var touched = (ulong)chunks.Count < count / ChunkPages
            ? chunks.Keys.Where(k => k * ChunkPages < end && first < (k + 1) * ChunkPages).ToList()
            : Enumerable.Range(0, (int)(((end - 1) / ChunkPages) - (first / ChunkPages) + 1)).Select(i => (first / ChunkPages) + (ulong)i).ToList();
        foreach (ulong key in touched)
        {
            if (!chunks.TryGetValue(key, out var chunk))
            {
                continue;
            }

            lock (chunk.Gate)
            {
                for (ulong page = Math.Max(first, key * ChunkPages); page < Math.Min(end, (key + 1) * ChunkPages); page++)
                {
                    chunk.Drop((int)(page % ChunkPages)); // an unwritten page reads as zeros
                }

                if (chunk.Written == 0)
                {
                    chunks.TryRemove(key, out _);
                }
            }
        }

        ulong removed = allocated.ClearRange(first, count);
        Limit?.Uncharge(removed);
    }

    /// <summary>Copies bytes starting at a byte offset; may cross pages.</summary>
    public void Read(ulong offset, Span<byte> destination)
    {
        while (!destination.IsEmpty)
        {
            int inChunk = (int)(offset % ChunkBytes);
            int length = Math.Min(destination.Length, ChunkBytes - inChunk);
            if (chunks.TryGetValue(offset / ChunkBytes, out var chunk))
            {
                lock (chunk.Gate)
                {
                    chunk.CopyOut(inChunk, destination[..length]);
                }
            }
            else
            {
                destination[..length].Clear();
            }

            destination = destination[length..];
            offset += (ulong)length;
        }
    }

    /// <summary>A page's bytes, handed to <paramref name="action"/> in place; the page becomes written.</summary>
    public delegate void PageAction<TState>(Span<byte> page, TState state);

    /// <summary>
    /// Runs <paramref name="action"/> on the page's own storage (no copy in or out), under the page's lock:
    /// what TDH.MEM.PAGE.ADD does to the TD page it fills.
    /// </summary>
    /// <param name="overwritesWholePage">The action writes all 4096 bytes, so a fresh page need not be zeroed first.</param>
    public void WithPage<TState>(ulong index, TState state, PageAction<TState> action, bool overwritesWholePage = false)
    {
        Materialise(index, 1);
        var chunk = chunks.GetOrAdd(index / ChunkPages, static _ => new Chunk());
        lock (chunk.Gate)
        {
            int slot = (int)(index % ChunkPages);
            chunk.Own(slot);
            var page = chunk.Data.Slice(slot * PageSize, PageSize);
            bool fresh = (chunk.Written & (1u << slot)) == 0;
            if (fresh && !overwritesWholePage)
            {
                page.Clear();
                chunk.Written |= 1u << slot;
            }

            // A fresh page the action was to overwrite counts as written only once the action succeeded:
            // if it fails first (a refused PAGE.ADD), the page keeps reading as zeros, not as stale memory.
            action(page, state);
            chunk.Written |= 1u << slot;
        }
    }

    /// <summary>
    /// The host address of the page's storage, making it exist (zero-filled when fresh): what a vCPU's mapping of
    /// the page points at. It stays valid until the page is removed, so whoever removes pages a CPU may have
    /// cached (punch hole, MADV_DONTNEED, conversion) must have that CPU flush its TLB, as KVM's MMU notifier does.
    /// </summary>
    public unsafe byte* PagePointer(ulong index)
    {
        Materialise(index, 1);
        var chunk = chunks.GetOrAdd(index / ChunkPages, static _ => new Chunk());
        lock (chunk.Gate)
        {
            int slot = (int)(index % ChunkPages);
            chunk.Own(slot);
            if ((chunk.Written & (1u << slot)) == 0)
            {
                chunk.Data.Slice(slot * PageSize, PageSize).Clear();
                chunk.Written |= 1u << slot;
            }

            return chunk.Pointer + (slot * PageSize);
        }
    }

    /// <summary>
    /// Makes the page at <paramref name="offset"/> (page aligned) read as <paramref name="page"/>, 4 KiB that must never
    /// change, without copying them: the same contents as <see cref="Write"/> of those bytes. The page takes a copy
    /// of its own when it is first written or its storage is handed out (<see cref="WithPage"/>, <see cref="PagePointer"/>).
    /// </summary>
    public void Lend(ulong offset, ReadOnlyMemory<byte> page)
    {
        if (offset % PageSize != 0 || page.Length != PageSize)
        {
            throw new ArgumentException($"a lent page is one whole aligned page, not {page.Length} bytes at 0x{offset:x}");
        }

        ulong index = offset / PageSize;
        Materialise(index, 1);
        var chunk = chunks.GetOrAdd(index / ChunkPages, static _ => new Chunk());
        lock (chunk.Gate)
        {
            chunk.Lend((int)(index % ChunkPages), page);
        }
    }

    /// <summary>Writes bytes, allocating the pages they land in.</summary>
    public void Write(ulong offset, ReadOnlySpan<byte> source)
    {
        if (!source.IsEmpty)
        {
            Materialise(offset / PageSize, ((offset + (ulong)source.Length - 1) / PageSize) - (offset / PageSize) + 1);
        }

        while (!source.IsEmpty)
        {
            int inChunk = (int)(offset % ChunkBytes);
            int length = Math.Min(source.Length, ChunkBytes - inChunk);
            var chunk = chunks.GetOrAdd(offset / ChunkBytes, static _ => new Chunk());
            lock (chunk.Gate)
            {
                chunk.CopyIn(inChunk, source[..length]);
            }

            source = source[length..];
            offset += (ulong)length;
        }
    }

    /// <summary>
    /// 32 pages of native memory, given back when the chunk is collected. Memory is not zeroed up front: a page
    /// that was never written reads as zeros, and its first partial write zeroes the rest of it.
    /// </summary>
    private sealed unsafe class Chunk
    {
        private readonly byte* data = ChunkMemory.Rent();

        ~Chunk() => ChunkMemory.Return(data);

        /// <summary>Guards <see cref="Written"/> and the data (a <see cref="Lock"/> is cheaper to take than a monitor).</summary>
        public readonly Lock Gate = new();

        public uint Written;

        /// <summary>Written pages whose bytes are still <see cref="lent"/>'s, not yet copied into <see cref="Data"/>.</summary>
        private uint lentPages;

        private ReadOnlyMemory<byte>[]? lent;

        public Span<byte> Data => new(data, ChunkBytes);

        public byte* Pointer => data;

        public void CopyOut(int offset, Span<byte> destination)
        {
            for (int done = 0; done < destination.Length;)
            {
                int slot = (offset + done) / PageSize;
                int n = Math.Min(destination.Length - done, ((slot + 1) * PageSize) - (offset + done));
                if ((lentPages & (1u << slot)) != 0)
                {
                    lent![slot].Span.Slice((offset + done) % PageSize, n).CopyTo(destination[done..]);
                }
                else if ((Written & (1u << slot)) != 0)
                {
                    Data.Slice(offset + done, n).CopyTo(destination[done..]);
                }
                else
                {
                    destination.Slice(done, n).Clear();
                }

                done += n;
            }
        }

        public void CopyIn(int offset, ReadOnlySpan<byte> source)
        {
            for (int done = 0; done < source.Length;)
            {
                int slot = (offset + done) / PageSize;
                int inPage = (offset + done) % PageSize;
                int n = Math.Min(source.Length - done, PageSize - inPage);
                if (n == PageSize)
                {
                    Drop(slot); // overwritten whole: the lent bytes need no copy
                }

                Own(slot);
                if ((Written & (1u << slot)) == 0 && n < PageSize)
                {
                    Data.Slice(slot * PageSize, PageSize).Clear();
                }

                source.Slice(done, n).CopyTo(Data[(offset + done)..]);
                Written |= 1u << slot;
                done += n;
            }
        }

        public void Lend(int slot, ReadOnlyMemory<byte> page)
        {
            lent ??= new ReadOnlyMemory<byte>[ChunkPages];
            lent[slot] = page;
            lentPages |= 1u << slot;
            Written |= 1u << slot;
        }

        /// <summary>Gives a lent page a copy of its own in <see cref="Data"/>, for a write or a pointer to it.</summary>
        public void Own(int slot)
        {
            if ((lentPages & (1u << slot)) != 0)
            {
                lent![slot].Span.CopyTo(Data.Slice(slot * PageSize, PageSize));
                lentPages &= ~(1u << slot);
                lent[slot] = default;
            }
        }

        /// <summary>The page stops being written (it reads as zeros) and lent bytes are let go.</summary>
        public void Drop(int slot)
        {
            Written &= ~(1u << slot);
            if ((lentPages & (1u << slot)) != 0)
            {
                lentPages &= ~(1u << slot);
                lent![slot] = default;
            }
        }
    }

    /// <summary>
    /// Chunk memory recycled across stores. A fresh native chunk costs a mapping, 32 page faults with the kernel
    /// zeroing each page, and an unmapping when it is freed; one launch after another (a CI job measuring many
    /// specs, a benchmark) would pay that for every page it writes. Up to <see cref="MaxPooled"/> chunks are kept.
    /// The GC hears of native memory when it is allocated or really freed, not on every reuse: pressure updates
    /// are what make it collect, and a collection per few chunks would cost more than the chunks.
    /// </summary>
    private static unsafe class ChunkMemory
    {
        private const int MaxPooled = 2048; // 256 MiB
        private static readonly ConcurrentStack<nint> Pool = new();
        private static int pooled;

        public static byte* Rent()
        {
            if (Pool.TryPop(out nint memory))
            {
                Interlocked.Decrement(ref pooled);
                return (byte*)memory;
            }

            GC.AddMemoryPressure(ChunkBytes);
            return (byte*)System.Runtime.InteropServices.NativeMemory.Alloc(ChunkBytes);
        }

        public static void Return(byte* memory)
        {
            if (Interlocked.Increment(ref pooled) <= MaxPooled)
            {
                Pool.Push((nint)memory);
            }
            else
            {
                Interlocked.Decrement(ref pooled);
                System.Runtime.InteropServices.NativeMemory.Free(memory);
                GC.RemoveMemoryPressure(ChunkBytes);
            }
        }
    }
}
