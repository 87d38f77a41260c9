using System.Collections.Concurrent;
using CocoLaunch.Abi;

namespace CocoLaunch.Memory;

/// <summary>
/// 4 KiB pages that exist once allocated or written. An allocated page that was never written holds
/// no bytes (it reads as zeros, like a freshly zeroed page), so a fault-in of a 64 GiB guest costs
/// bits, not gigabytes; only written pages carry data.
/// </summary>
public sealed class SparsePageStore
{
    private const int PageSize = (int)Abi.PageSize.Size4K;
    private const int ChunkPages = 512;
    private readonly ConcurrentDictionary<ulong, byte[]> pages = new();
    private readonly ConcurrentDictionary<ulong, ulong[]> allocated = new();

    /// <summary>Pages that exist (allocated or written).</summary>
    public long PageCount => allocated.Values.Sum(bits => (long)bits.Sum(w => System.Numerics.BitOperations.PopCount(Volatile.Read(ref w))));

    /// <summary>Pages holding written data.</summary>
    public int DataPageCount => pages.Count;

    /// <summary>Bytes held for page contents (not counting the index).</summary>
    public long BytesInUse => (long)pages.Count * PageSize;

    public bool Contains(ulong index) =>
        allocated.TryGetValue(index / ChunkPages, out var bits) && (Volatile.Read(ref bits[(index % ChunkPages) >> 6]) & (1UL << (int)(index & 63))) != 0;

    /// <summary>Makes the page exist (zero-filled) without writing it, as fallocate or a fault does.</summary>
    public void Allocate(ulong index) => AllocateRange(index, 1);

    /// <summary>Allocates [first, first + count) with one bitmap update per 64 pages.</summary>
    public void AllocateRange(ulong first, ulong count)
    {
        ulong end = first + count;
        for (ulong i = first; i < end;)
        {
            var bits = allocated.GetOrAdd(i / ChunkPages, static _ => new ulong[ChunkPages / 64]);
            int word = (int)((i % ChunkPages) >> 6);
            int bit = (int)(i & 63);
            int n = (int)Math.Min((ulong)(64 - bit), end - i);
            ulong mask = (n == 64 ? ulong.MaxValue : ((1UL << n) - 1)) << bit;
            Interlocked.Or(ref bits[word], mask);
            i += (ulong)n;
        }
    }

    public void Remove(ulong index) => RemoveRange(index, 1);

    /// <summary>Drops every page in [first, first + count) that exists: its data and its existence.</summary>
    public void RemoveRange(ulong first, ulong count)
    {
        ulong end = first + count;
        foreach (ulong index in pages.Keys.Where(i => i - first < count).ToList())
        {
            pages.TryRemove(index, out _);
        }

        for (ulong i = first; i < end;)
        {
            ulong chunkEnd = Math.Min(end, ((i / ChunkPages) + 1) * ChunkPages);
            if (allocated.TryGetValue(i / ChunkPages, out var bits))
            {
                for (ulong j = i; j < chunkEnd;)
                {
                    int word = (int)((j % ChunkPages) >> 6);
                    int bit = (int)(j & 63);
                    int n = (int)Math.Min((ulong)(64 - bit), chunkEnd - j);
                    ulong mask = (n == 64 ? ulong.MaxValue : ((1UL << n) - 1)) << bit;
                    Interlocked.And(ref bits[word], ~mask);
                    j += (ulong)n;
                }
            }

            i = chunkEnd;
        }
    }

    /// <summary>Copies bytes starting at a byte offset; may cross pages.</summary>
    public void Read(ulong offset, Span<byte> destination)
    {
        while (!destination.IsEmpty)
        {
            int inPage = (int)(offset % (ulong)PageSize);
            int chunk = Math.Min(destination.Length, PageSize - inPage);
            if (pages.TryGetValue(offset / (ulong)PageSize, out var page))
            {
                lock (page)
                {
                    page.AsSpan(inPage, chunk).CopyTo(destination);
                }
            }
            else
            {
                destination[..chunk].Clear();
            }

            destination = destination[chunk..];
            offset += (ulong)chunk;
        }
    }

    /// <summary>Writes bytes, allocating the pages they land in.</summary>
    public void Write(ulong offset, ReadOnlySpan<byte> source)
    {
        while (!source.IsEmpty)
        {
            int inPage = (int)(offset % (ulong)PageSize);
            int chunk = Math.Min(source.Length, PageSize - inPage);
            ulong index = offset / (ulong)PageSize;
            Allocate(index);
            var page = pages.GetOrAdd(index, static _ => new byte[PageSize]);
            lock (page)
            {
                source[..chunk].CopyTo(page.AsSpan(inPage));
            }

            source = source[chunk..];
            offset += (ulong)chunk;
        }
    }
}
