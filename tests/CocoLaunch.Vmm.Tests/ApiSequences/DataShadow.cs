using CocoLaunch.Abi.Kvm;
using CocoLaunch.Tests.Shared;
using static CocoLaunch.Vmm.Tests.ApiSequences.SequenceVm;

namespace CocoLaunch.Vmm.Tests.ApiSequences;

/// <summary>
/// What the guest must read back (single-threaded runs): the bytes of every storage page the guest wrote, keyed by
/// where they live — a guest_memfd page (file inode, index) or a host page — never by GFN, so slot moves, deletes and
/// conversions need no bookkeeping. Attribute conversions keep both backings (kvm-memory-model.md §4, case 101);
/// in-place conversion keeps the one page (§11.1); PUNCH_HOLE zeroes (§2). Storage the model writes behind the
/// guest's back (TDX PAGE.ADD and reclaim, SNP LAUNCH_UPDATE) is not checked.
/// </summary>
internal sealed class DataShadow(SequenceVm w)
{
    private const long Host = 0;
    private const int Mmio = -1;
    private readonly Dictionary<(long File, ulong Page, int Offset), byte> bytes = [];
    private readonly HashSet<long> forgotten = [];

    public long Checked { get; private set; }

    public void Punch(long inode, ulong first, ulong count)
    {
        foreach (var key in bytes.Keys.Where(k => k.File == inode && k.Page >= first && k.Page < first + count).ToList())
        {
            bytes.Remove(key);
        }
    }

    public void Forget(long inode) => forgotten.Add(inode);

    /// <summary>
    /// Where a guest access to <paramref name="gfn"/> lands now: a guest_memfd page for private memory and gmem-only
    /// slots, the host page behind userspace_addr for other shared memory, MMIO without a slot; null when unknown.
    /// </summary>
    private (long File, ulong Page)? Locate(ulong gfn, out bool mmio)
    {
        mmio = false;
        var slot = w.Vm.Memslots.FirstOrDefault(s => s.AddressSpace == 0 && s.Contains(gfn) && !s.Invalid); // SMM slots are not the guest's
        if (slot is null)
        {
            mmio = true;
            return null;
        }

        bool isPrivate = w.HasPrivateMemory && w.Vm.AttributesOf(gfn).HasFlag(KvmMemoryAttributes.Private);
        if (isPrivate || slot.IsGmemOnly)
        {
            if (w.Confidential || slot.GuestMemfd is not { IsClosed: false } file || forgotten.Contains(file.Inode))
            {
                return null;
            }

            return (file.Inode, slot.GuestMemfdPgoff + (gfn - slot.BaseGfn));
        }

        return (Host, slot.HostAddress(gfn * K4).Value / K4);
    }

    /// <summary>Records a completed guest write.</summary>
    public void Wrote(GuestAction.Write write)
    {
        ulong gpa = write.Address.Value & ~w.SharedBit;
        if (Locate(gpa / K4, out _) is not { } at)
        {
            return;
        }

        for (int i = 0; i < write.Data.Length; i++)
        {
            bytes[(at.File, at.Page, (int)(gpa % K4) + i)] = write.Data[i];
        }
    }

    /// <summary>The mismatch of a completed guest read, if any.</summary>
    public string? Read(GuestAction.Read read, byte[] got)
    {
        ulong gpa = read.Address.Value & ~w.SharedBit;
        var at = Locate(gpa / K4, out bool mmio);
        if (at is null && !mmio)
        {
            return null;
        }

        Checked++;
        for (int i = 0; i < got.Length; i++)
        {
            byte expected = mmio ? (byte)0xFF : bytes.GetValueOrDefault((at!.Value.File, at.Value.Page, (int)(gpa % K4) + i));
            if (got[i] != expected)
            {
                string where = mmio ? "MMIO" : at!.Value.File == Host ? $"host page 0x{at.Value.Page * K4:x}" : $"guest_memfd {at.Value.File} page {at.Value.Page}";
                return $"guest read 0x{got[i]:x2} at gpa 0x{gpa + (ulong)i:x}, expected 0x{expected:x2} from {where} (attribute {(w.HasPrivateMemory ? w.Vm.AttributesOf(gpa / K4) : 0)}, {w.Vm.Memslots.FirstOrDefault(s => s.Contains(gpa / K4))}, gmem {w.Vm.Memslots.FirstOrDefault(s => s.Contains(gpa / K4))?.GuestMemfd?.Flags.ToString() ?? "none"})";
            }
        }

        return null;
    }
}
