using System.Numerics;

namespace CocoLaunch.Firmware.Tdx;

/// <summary>
/// A set of 4 KiB-aligned GPAs as one bit per page in 2 MiB chunks, so a TD with a terabyte of pre-faulted
/// memory costs 64 MiB of Secure-EPT state rather than a hash entry per page. Safe to use from several
/// threads (faults on different vCPUs run at once).
/// </summary>
internal sealed class PageSet
{
    private const int PagesPerChunk = 512;
    private readonly Dictionary<ulong, ulong[]> chunks = [];
    private readonly Lock gate = new();
    private long count;

    public long Count => Interlocked.Read(ref count);

    public bool Contains(ulong gpa)
    {
        var (key, word, bit) = Locate(gpa);
        lock (gate)
        {
            return chunks.TryGetValue(key, out var bits) && (bits[word] & bit) != 0;
        }
    }

    public bool Add(ulong gpa)
    {
        var (key, word, bit) = Locate(gpa);
        lock (gate)
        {
            if (!chunks.TryGetValue(key, out var bits))
            {
                chunks[key] = bits = new ulong[PagesPerChunk / 64];
            }

            if ((bits[word] & bit) != 0)
            {
                return false;
            }

            bits[word] |= bit;
            count++;
            return true;
        }
    }

    public bool Remove(ulong gpa)
    {
        var (key, word, bit) = Locate(gpa);
        lock (gate)
        {
            if (!chunks.TryGetValue(key, out var bits) || (bits[word] & bit) == 0)
            {
                return false;
            }

            bits[word] &= ~bit;
            count--;
            return true;
        }
    }

    /// <summary>Removes every page in [start, end); returns how many there were, adding their GPAs to <paramref name="removed"/>.</summary>
    public int RemoveRange(ulong start, ulong end, List<ulong>? removed = null)
    {
        lock (gate)
        {
            int n = 0;
            foreach (ulong key in chunks.Keys.Where(k => k * PageSize2M < end && start < (k + 1) * PageSize2M).ToList())
            {
                var bits = chunks[key];
                for (int page = 0; page < PagesPerChunk; page++)
                {
                    ulong gpa = (key * PageSize2M) + ((ulong)page * 4096);
                    ulong bit = 1UL << (page % 64);
                    if (gpa >= start && gpa < end && (bits[page / 64] & bit) != 0)
                    {
                        bits[page / 64] &= ~bit;
                        count--;
                        removed?.Add(gpa);
                        n++;
                    }
                }

                if (bits.All(w => w == 0))
                {
                    chunks.Remove(key);
                }
            }

            return n;
        }
    }

    /// <summary>Whether any page in [start, start + 2 MiB) is in the set.</summary>
    public bool AnyIn2M(ulong start)
    {
        lock (gate)
        {
            return chunks.TryGetValue(start / PageSize2M, out var bits) && bits.Any(w => BitOperations.PopCount(w) != 0);
        }
    }

    private const ulong PageSize2M = 2UL << 20;

    private static (ulong Key, int Word, ulong Bit) Locate(ulong gpa)
    {
        int page = (int)((gpa >> 12) % PagesPerChunk);
        return (gpa / PageSize2M, page / 64, 1UL << (page % 64));
    }
}
