using System.Buffers.Binary;
using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Cpu;

namespace CocoLaunch.Kvm;

/// <summary>VMGEXIT with a GHCB page: KVM's NAE-event handling (guest-abi.md §5, <c>sev_handle_vmgexit</c>).</summary>
public sealed partial class SevVcpuBackend
{
    private static class Ghcb
    {
        public const int Rax = 0x1F8, Rcx = 0x308, Rdx = 0x310, Rbx = 0x318, ExitCode = 0x390, ExitInfo1 = 0x398, ExitInfo2 = 0x3A0;
        public const int Scratch = 0x3A8, ValidBitmap = 0x3F0, SharedBuffer = 0x800, SharedBufferEnd = 0xFF0, Usage = 0xFFC;
    }

    public const ulong NaeIoio = 0x7B, NaeMsr = 0x7C, NaeCpuid = 0x72, NaeMmioRead = 0x8000_0001, NaeMmioWrite = 0x8000_0002;
    public const ulong NaePsc = 0x8000_0010, NaeGuestRequest = 0x8000_0011, NaeExtGuestRequest = 0x8000_0012;
    public const ulong NaeHvFeatures = 0x8000_FFFD, NaeTermination = 0x8000_FFFE;
    public const ulong PscInvalidHeader = 0x0000_0001_0000_0001, PscInvalidEntry = 0x0000_0001_0000_0002, PscGeneric = 0x0000_0100_0000_0000;
    private const int PscMaxEntries = 253;

    private KvmExit? GhcbEvent(IGuestCpu c, ulong ghcbGpa)
    {
        if (RegisteredGhcbGfn != ghcbGpa >> 12 || ghcbGpa % Page != 0)
        {
            throw new KvmException(Errno.EINVAL, $"VMGEXIT with GHCB 0x{ghcbGpa:x}, which the SNP guest never registered");
        }

        var ghcb = new byte[Page];
        if (!SharedAccess(ghcbGpa, ghcb, write: false))
        {
            throw new KvmException(Errno.EINVAL, $"the GHCB at 0x{ghcbGpa:x} is not shared memory");
        }

        ulong exitCode = U64(ghcb, Ghcb.ExitCode), info1 = U64(ghcb, Ghcb.ExitInfo1), info2 = U64(ghcb, Ghcb.ExitInfo2);
        var valid = ghcb.AsSpan(Ghcb.ValidBitmap, 16).ToArray();
        ghcb.AsSpan(Ghcb.ValidBitmap, 16).Clear();
        ghcb.AsSpan(Ghcb.ExitInfo1, 16).Clear(); // success unless the handler says otherwise, as svm_vmgexit_success(svm, 0)
        (ulong result1, ulong result2) = (0, 0);
        KvmExit? exit = null;
        if (!IsValid(valid, Ghcb.ExitCode) || !IsValid(valid, Ghcb.ExitInfo1) || !IsValid(valid, Ghcb.ExitInfo2))
        {
            (result1, result2) = (2, 4); // missing input
        }
        else if (BinaryPrimitives.ReadUInt32LittleEndian(ghcb.AsSpan(Ghcb.Usage)) != 0)
        {
            (result1, result2) = (2, 2); // invalid usage
        }
        else
        {
            switch (exitCode)
            {
                case NaeIoio:
                    exit = GhcbIoio(ghcbGpa, ghcb, valid, info1, info2, ref result1, ref result2);
                    break;
                case NaeCpuid:
                {
                    var (eax, ebx, ecx, edx) = SnpCpuid((uint)U64(ghcb, Ghcb.Rax), (uint)U64(ghcb, Ghcb.Rcx), c.State);
                    SetRegisters(ghcb, eax, ebx, ecx, edx);
                    break;
                }

                case NaeMsr:
                    (result1, result2) = GhcbMsrAccess(ghcb, valid, info1);
                    break;
                case NaePsc:
                    return PageStateChange(ghcbGpa, ghcb);
                case NaeMmioRead or NaeMmioWrite:
                    exit = GhcbMmio(ghcbGpa, ghcb, valid, exitCode == NaeMmioWrite, info1, info2, ref result1, ref result2);
                    break;
                case NaeGuestRequest:
                    result2 = GuestRequest(info1, info2);
                    break;
                case NaeExtGuestRequest:
                    (result1, result2) = ExtendedGuestRequest(ghcb, valid, info1, info2);
                    break;
                case NaeHvFeatures:
                    result2 = 0x3;
                    break;
                case NaeApCreation:
                    (result1, result2) = ApCreation(info1, info2, U64(ghcb, Ghcb.Rax), IsValid(valid, Ghcb.Rax));
                    break;
                case NaeTermination:
                    return new KvmExit.SystemEvent(KvmExit.SystemEvent.SevTerm, [ghcbGpa]);
                default:
                    (result1, result2) = (2, 6); // invalid event
                    break;
            }
        }

        BinaryPrimitives.WriteUInt64LittleEndian(ghcb.AsSpan(Ghcb.ExitInfo1), result1);
        BinaryPrimitives.WriteUInt64LittleEndian(ghcb.AsSpan(Ghcb.ExitInfo2), result2);
        if (exit is null)
        {
            SharedAccess(ghcbGpa, ghcb, write: true);
        }

        return exit;
    }

    /// <summary>
    /// The page-state change descriptor at SW_SCRATCH in the GHCB (guest-abi.md §5.4), as <c>snp_begin_psc</c> walks
    /// it: from cur_entry, the first entry with pages left (a partly done 2M entry goes on at 4K), then the following
    /// entries with the same operation and page size that continue its range, as one KVM_EXIT_HYPERCALL whose
    /// attributes carry the page-size hint of the first entry. Other operations are completed without an exit.
    /// </summary>
    private KvmExit? PageStateChange(ulong ghcbGpa, byte[] ghcb)
    {
        ulong scratch = U64(ghcb, Ghcb.Scratch);
        if (scratch < ghcbGpa + Ghcb.SharedBuffer || scratch + 8 > ghcbGpa + Ghcb.SharedBufferEnd)
        {
            return FinishGhcb(ghcbGpa, ghcb, 2, 3); // invalid scratch area
        }

        if ((Vm.HypercallExitMask & (1UL << (int)KvmLimits.HcMapGpaRange)) == 0)
        {
            return FinishGhcb(ghcbGpa, ghcb, 0, PscGeneric);
        }

        return NextPscRange(ghcbGpa, ghcb, (int)(scratch - ghcbGpa));
    }

    private KvmExit? NextPscRange(ulong ghcbGpa, byte[] ghcb, int at)
    {
        while (true)
        {
            int cur = BinaryPrimitives.ReadUInt16LittleEndian(ghcb.AsSpan(at)), end = BinaryPrimitives.ReadUInt16LittleEndian(ghcb.AsSpan(at + 2));
            if (end >= PscMaxEntries || at + 8 + (8 * (end + 1)) > Ghcb.SharedBufferEnd)
            {
                return FinishGhcb(ghcbGpa, ghcb, 0, PscInvalidHeader);
            }

            // The first entry with pages left; cur_entry moves past the finished ones as it goes.
            int idx = cur;
            PscEntry start = default;
            ulong gfn = 0, npages = 0;
            bool huge = false;
            for (; idx <= end; idx++, SetCurEntry(ghcb, at, idx))
            {
                start = PscEntry.At(ghcb, at, idx);
                (gfn, huge) = (start.Gfn, start.Large);
                npages = huge ? 512UL : 1;
                if (start.CurPage > npages || gfn % npages != 0)
                {
                    return FinishGhcb(ghcbGpa, ghcb, 0, PscInvalidEntry);
                }

                if (start.CurPage != 0)
                {
                    npages -= start.CurPage; // a partly done 2M entry: the rest is split, so 4K from here
                    gfn += start.CurPage;
                    huge = false;
                }

                if (npages != 0)
                {
                    break;
                }
            }

            if (idx > end)
            {
                return FinishGhcb(ghcbGpa, ghcb, 0, 0);
            }

            int first = idx, inflight = 1;
            while (++idx <= end && PscEntry.At(ghcb, at, idx) is var next && next.Operation == start.Operation
                && next.Gfn == start.Gfn + npages && next.CurPage == 0 && next.Large == huge)
            {
                inflight++;
                npages += huge ? 512UL : 1;
            }

            if (start.Operation is not (PscPrivate or PscShared))
            {
                CompletePscEntries(ghcb, at, first, inflight); // SMASH, UNSMASH: nothing to convert
                continue;
            }

            ulong attributes = (start.Operation == PscPrivate ? MapGpaRangeEncrypted : 0) | (start.Large ? MapGpaRangePageSize2M : 0);
            var exit = new KvmExit.Hypercall(KvmLimits.HcMapGpaRange, [gfn * Page, npages, attributes, 0, 0, 0], Flags: 1);
            snpPending = new SnpPending(exit, e =>
            {
                if (((KvmExit.Hypercall)e).Ret != 0)
                {
                    return FinishGhcb(ghcbGpa, ghcb, 0, PscGeneric);
                }

                CompletePscEntries(ghcb, at, first, inflight);
                return NextPscRange(ghcbGpa, ghcb, at); // the rest of the descriptor, in the same VMGEXIT
            });
            return exit;
        }
    }

    private const ulong PscPrivate = 1, PscShared = 2, MapGpaRangeEncrypted = 0x10, MapGpaRangePageSize2M = 1;

    /// <summary>One page-state change entry: cur_page [11:0], GFN [51:12], operation [55:52], page size bit 56.</summary>
    private readonly record struct PscEntry(ulong Raw)
    {
        public ulong CurPage => Raw & 0xFFF;

        public ulong Gfn => (Raw >> 12) & 0xFF_FFFF_FFFF;

        public ulong Operation => (Raw >> 52) & 0xF;

        public bool Large => ((Raw >> 56) & 1) != 0;

        public static PscEntry At(byte[] ghcb, int at, int index) => new(U64(ghcb, at + 8 + (8 * index)));
    }

    /// <summary><c>__snp_complete_one_psc</c>: the in-flight entries are done (cur_page = their size), and cur_entry moves past them.</summary>
    private static void CompletePscEntries(byte[] ghcb, int at, int first, int count)
    {
        for (int i = first; i < first + count; i++)
        {
            var entry = PscEntry.At(ghcb, at, i);
            BinaryPrimitives.WriteUInt64LittleEndian(ghcb.AsSpan(at + 8 + (8 * i)), (entry.Raw & ~0xFFFUL) | (entry.Large ? 512UL : 1));
        }

        SetCurEntry(ghcb, at, first + count);
    }

    private static void SetCurEntry(byte[] ghcb, int at, int index) => BinaryPrimitives.WriteUInt16LittleEndian(ghcb.AsSpan(at), (ushort)index);

    private KvmExit? FinishGhcb(ulong ghcbGpa, byte[] ghcb, ulong info1, ulong info2)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(ghcb.AsSpan(Ghcb.ExitInfo1), info1);
        BinaryPrimitives.WriteUInt64LittleEndian(ghcb.AsSpan(Ghcb.ExitInfo2), info2);
        SharedAccess(ghcbGpa, ghcb, write: true);
        return null;
    }

    /// <summary>SNP guest request: both pages shared and page-aligned; the firmware answers; EXITINFO2 = firmware error.</summary>
    private ulong GuestRequest(ulong requestGpa, ulong responseGpa)
    {
        var request = new byte[Page];
        var response = new byte[Page];
        if (requestGpa % Page != 0 || responseGpa % Page != 0 || requestGpa == responseGpa || !SharedAccess(requestGpa, request, write: false))
        {
            return 0x8000_0000UL << 32; // VMM error GENERIC
        }

        var status = Snp.GuestRequest(request, response);
        if (status == Firmware.Snp.SnpStatus.Success && !SharedAccess(responseGpa, response, write: true))
        {
            return 0x8000_0000UL << 32;
        }

        return (ulong)status;
    }

    /// <summary>
    /// MSR (NAE 0x7C): EXITINFO1 0 read, 1 write; the index in RCX, the value in EDX:EAX. An MSR KVM does not emulate
    /// gets an injected #GP (EXITINFO1 1, EXITINFO2 the #GP event).
    /// </summary>
    private (ulong, ulong) GhcbMsrAccess(byte[] ghcb, byte[] valid, ulong info1)
    {
        bool write = info1 == 1;
        if (!IsValid(valid, Ghcb.Rcx) || (write && (!IsValid(valid, Ghcb.Rax) || !IsValid(valid, Ghcb.Rdx))) || info1 > 1)
        {
            return (2, 4); // missing input
        }

        uint index = (uint)U64(ghcb, Ghcb.Rcx);
        if (write)
        {
            ulong value = (U64(ghcb, Ghcb.Rdx) << 32) | (uint)U64(ghcb, Ghcb.Rax);
            return KvmMsrWrite(index, value) ? (0UL, 0UL) : (1UL, 0x8000_030DUL);
        }

        if (!KvmMsrRead(index, out ulong read))
        {
            return (1UL, 0x8000_030DUL);
        }

        SetRegisters(ghcb, read & 0xFFFF_FFFF, U64(ghcb, Ghcb.Rbx), U64(ghcb, Ghcb.Rcx), read >> 32);
        return (0, 0);
    }

    /// <summary>KVM writes RAX, RBX, RCX and RDX back with their valid bits after every event.</summary>
    private static void SetRegisters(byte[] ghcb, ulong rax, ulong rbx, ulong rcx, ulong rdx)
    {
        foreach (var (offset, value) in new[] { (Ghcb.Rax, rax), (Ghcb.Rbx, rbx), (Ghcb.Rcx, rcx), (Ghcb.Rdx, rdx) })
        {
            BinaryPrimitives.WriteUInt64LittleEndian(ghcb.AsSpan(offset), value);
            int bit = offset / 8;
            ghcb[Ghcb.ValidBitmap + (bit / 8)] |= (byte)(1 << (bit % 8));
        }
    }

    private static bool IsValid(byte[] bitmap, int offset) => (bitmap[offset / 8 / 8] & (1 << (offset / 8 % 8))) != 0;

    private static ulong U64(byte[] page, int offset) => BinaryPrimitives.ReadUInt64LittleEndian(page.AsSpan(offset));

    /// <summary>Reads or writes shared guest memory as KVM does for the GHCB and guest-request pages; false where it is not shared RAM.</summary>
    private bool SharedAccess(ulong gpa, Span<byte> buffer, bool write)
    {
        ulong gfn = gpa / Page;
        if ((gpa % Page) + (ulong)buffer.Length > Page || Vm.Slots.Find(gfn) is null || Vm.AttributesOf(gfn).HasFlag(KvmMemoryAttributes.Private))
        {
            return false;
        }

        var store = Vm.BackingStore(gfn, isPrivate: false);
        if (write)
        {
            store.Write(gpa, buffer);
        }
        else
        {
            store.Read(gpa, buffer);
        }

        return true;
    }
}
