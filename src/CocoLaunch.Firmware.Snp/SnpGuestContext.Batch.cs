using CocoLaunch.Abi;

namespace CocoLaunch.Firmware.Snp;

/// <summary>
/// Updates of many pages at once, as KVM issues them for one KVM_SEV_SNP_LAUNCH_UPDATE range or for the VMSAs
/// at LAUNCH_FINISH. Only the PAGE_INFO chain is sequential: each page's CONTENTS digest depends on that page
/// alone, so with <see cref="ParallelContents"/> those 4 KiB hashes, nearly all of the work, run on two cores.
/// The chain, its checks and the log are exactly those of one update after another.
/// </summary>
public sealed partial class SnpGuestContext
{
    private const int PageBytes = (int)PageSize.Size4K;

    /// <summary>Hash the pages of a batch on two cores (the emulator's choice; the digest is the same).</summary>
    public bool ParallelContents { get; init; }

    /// <summary>
    /// SNP_LAUNCH_UPDATE of consecutive 4 KiB pages from <paramref name="first"/>, in order. When a page is
    /// refused, the pages before it stay measured (<see cref="Updates"/> counts them) and the error is thrown.
    /// </summary>
    public void LaunchUpdateRange(SnpPageType type, Gpa first, IReadOnlyList<ReadOnlyMemory<byte>> pages)
    {
        if (pages.Any(p => p.Length != PageBytes))
        {
            throw new SnpFirmwareException(SnpStatus.InvalidParam, "SNP_LAUNCH_UPDATE", $"every page must be {PageBytes} bytes");
        }

        if (!PageInfo.HasContents(type))
        {
            for (int i = 0; i < pages.Count; i++)
            {
                LaunchUpdate(type, new Gpa(first.Value + ((ulong)i * PageSize.Size4K)), pages[i].Span);
            }

            return;
        }

        CheckUpdate(type, first); // a refused first page costs no hashing
        var contents = ContentsDigests(pages.Count, i => pages[i]);
        for (int i = 0; i < pages.Count; i++)
        {
            Measure(type, new Gpa(first.Value + ((ulong)i * PageSize.Size4K)), PageBytes, contents.AsSpan(i * 48, 48));
        }
    }

    /// <summary>The VMSA page of every vCPU at LAUNCH_FINISH, vCPU 0 first, all at <paramref name="gpa"/>.</summary>
    public void LaunchUpdateVmsas(Gpa gpa, IReadOnlyList<byte[]> vmsas)
    {
        var contents = ContentsDigests(vmsas.Count, i => vmsas[i]);
        for (int i = 0; i < vmsas.Count; i++)
        {
            Measure(SnpPageType.Vmsa, gpa, vmsas[i].Length, contents.AsSpan(i * 48, 48));
        }
    }

    private byte[] ContentsDigests(int count, Func<int, ReadOnlyMemory<byte>> page)
    {
        var digests = new byte[count * 48];
        void Hash(int from, int to)
        {
            for (int i = from; i < to; i++)
            {
                Sha384.HashData(page(i).Span, digests.AsSpan(i * 48, 48));
            }
        }

        if (ParallelContents && count >= 2)
        {
            Parallel.Invoke(() => Hash(0, count / 2), () => Hash(count / 2, count));
        }
        else
        {
            Hash(0, count);
        }

        return digests;
    }
}
