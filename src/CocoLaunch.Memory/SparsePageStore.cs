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
    private readonly ConcurrentDictionary<ulong, byte[]> pages = new();
    private readonly AllocationBitmap allocated = new();

    /// <summary>Pages that exist (allocated or written).</summary>
    public long PageCount => allocated.Count;

    /// <summary>Pages holding written data.</summary>
    public int DataPageCount => pages.Count;

    /// <summary>Bytes held for page contents (not counting the index).</summary>
    public long BytesInUse => (long)pages.Count * PageSize;

    public bool Contains(ulong index) => allocated.Contains(index);

    /// <summary>Makes the page exist (zero-filled) without writing it, as fallocate or a fault does.</summary>
    public void Allocate(ulong index) => allocated.SetRange(index, 1);

    /// <summary>Allocates [first, first + count) with one bitmap update per 64 pages.</summary>
    public void AllocateRange(ulong first, ulong count) => allocated.SetRange(first, count);

    public void Remove(ulong index) => RemoveRange(index, 1);

    /// <summary>Drops every page in [first, first + count) that exists: its data and its existence.</summary>
    public void RemoveRange(ulong first, ulong count)
    {
        if ((ulong)pages.Count < count)
        {
            foreach (ulong index in pages.Keys.Where(i => i - first < count).ToList())
            {
                pages.TryRemove(index, out _);
            }
        }
        else
        {
            for (ulong i = 0; i < count; i++)
            {
                pages.TryRemove(first + i, out _);
            }
        }

        allocated.ClearRange(first, count);
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
