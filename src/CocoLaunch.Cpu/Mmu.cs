using System.Runtime.CompilerServices;

namespace CocoLaunch.Cpu;

/// <summary>Kinds of linear access: they index the TLBs and set the #PF error code's W and I/D bits.</summary>
internal enum Access
{
    Read = 0,
    Write = 1,
    Fetch = 2,
}

/// <summary>Paging: the 32-bit, PAE and 4/5-level walks with A/D bits and permissions, behind small software TLBs.</summary>
public sealed unsafe partial class X86Cpu
{
    private const int TlbBits = 8;
    private const int TlbSize = 1 << TlbBits;

    /// <summary>Entries per TLB, for compiled code's inline lookup.</summary>
    internal const int TlbEntries = TlbSize;

    /// <summary>A TLB's tags with nothing cached: compiled code looks here while every access must take the slow path.</summary>
    internal static readonly ulong[] NoTlbTags = new ulong[TlbSize];
    private const ulong PteP = 1, PteRw = 2, PteUs = 4, PteA = 0x20, PteD = 0x40, PtePs = 0x80;
    private const ulong PteNx = 1UL << 63;

    // One TLB per access kind: an entry exists only where that access is allowed at the CPL it was filled for,
    // so the fast path is a tag compare. Tags hold the linear page with bit 0 set (0 = empty).
    private readonly ulong[][] tlbTag = [new ulong[TlbSize], new ulong[TlbSize], new ulong[TlbSize]];
    private readonly nint[][] tlbHost = [new nint[TlbSize], new nint[TlbSize], new nint[TlbSize]];
    private readonly ulong[][] tlbGpa = [new ulong[TlbSize], new ulong[TlbSize], new ulong[TlbSize]];

    // Moves with every flush: a block link made under one generation knows its fetch translation still holds.
    private int tlbGeneration;

    // Guest frames with decoded code in the block cache: writes to them take the slow path and bump the page.
    private readonly HashSet<ulong> codeFrames = [];

    /// <summary>Drops every cached translation and host page pointer (the platform changed mappings).</summary>
    public void FlushTlb()
    {
        tlbFlushes++;
        tlbGeneration++;
        foreach (var t in tlbTag)
        {
            Array.Clear(t);
        }
    }

    /// <summary>
    /// What a TLB entry was filled for: the CPL, and under SMAP whether RFLAGS.AC lets ring 0 at user pages. A
    /// transfer that keeps both (an interrupt taken in the kernel, an IRET back to it) keeps the TLB.
    /// </summary>
    private (int Cpl, bool SmapOpen) AccessRights => (State.Cpl, (State.Cr4 & CpuState.Cr4Smap) != 0 && (State.Rflags & CpuState.FlagAc) != 0);

    /// <summary>Drops the TLB if a transfer changed <see cref="AccessRights"/>.</summary>
    private void FlushTlbIfRightsChanged((int Cpl, bool SmapOpen) before)
    {
        if (AccessRights != before)
        {
            FlushTlb();
        }
    }

    private void FlushTlbPage(ulong linear)
    {
        int i = (int)((linear >> 12) & (TlbSize - 1));
        tlbGeneration++;
        foreach (var t in tlbTag)
        {
            t[i] = 0;
        }
    }

    // Implicit supervisor accesses (descriptor tables, the TSS, the IDT, the frame an exception pushes) are made
    // with supervisor rights whatever the CPL, and are never alignment-checked.
    private bool implicitSupervisor;

    // Alignment checking is armed or an implicit supervisor access is under way: every access takes the slow path.
    private bool checkEveryAccess;

    /// <summary>Runs <paramref name="access"/> as implicit supervisor accesses.</summary>
    private T AsSupervisor<T>(Func<X86Cpu, T> access)
    {
        bool saved = implicitSupervisor;
        implicitSupervisor = true;
        checkEveryAccess = true;
        try
        {
            return access(this);
        }
        finally
        {
            implicitSupervisor = saved;
            checkEveryAccess = saved || alignmentChecks;
        }
    }

    /// <summary>Host address for a <paramref name="size"/>-byte access within one page, or null for the slow path.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private byte* Fast(ulong linear, int size, Access kind)
    {
        int i = (int)((linear >> 12) & (TlbSize - 1));
        if (tlbTag[(int)kind][i] == ((linear & ~0xFFFUL) | 1) && (linear & 0xFFF) <= (ulong)(4096 - size) && !checkEveryAccess)
        {
            return (byte*)tlbHost[(int)kind][i] + (linear & 0xFFF);
        }

        return null;
    }

    /// <summary>
    /// The guest-physical address (with its confidential bit) of <paramref name="linear"/>, for a platform that
    /// completes an instruction taking a virtual address (PVALIDATE's and RMPADJUST's RAX). Where the walk faults,
    /// the #PF (CR2, error code) is raised on that instruction, as the hardware raises it, and the result is false.
    /// </summary>
    public bool TranslateOrFault(ulong linear, CpuExit.InstructionExit atInstruction, out ulong gpa)
    {
        try
        {
            gpa = Translate(linear, Access.Read);
            return true;
        }
        catch (GuestFault fault)
        {
            gpa = 0;
            InjectException(fault.VectorNumber, fault.ErrorCode, atInstruction);
            return false;
        }
    }

    /// <summary>Translates a linear address (raising #PF), filling the TLB; returns the GPA with its confidential bit.</summary>
    private ulong Translate(ulong linear, Access kind)
    {
        // Without paging a linear address is physical: 32 bits wide, as only long mode has wider linear addresses.
        // An SEV guest's accesses are all private then (the C-bit is implied), a TD's too (no shared bit).
        return (State.Cr0 & CpuState.Cr0Pg) == 0
            ? (linear & 0xFFFF_FFFF) | (platform.ConfidentialBitMeansPrivate ? platform.ConfidentialGpaBit : 0)
            : Walk(linear, kind, State.Cpl == 3 && !implicitSupervisor);
    }

    private ulong Walk(ulong linear, Access kind, bool user)
    {
        bool write = kind == Access.Write;
        bool wp = (State.Cr0 & CpuState.Cr0Wp) != 0;
        bool nxe = (State.Efer & CpuState.EferNxe) != 0;
        ulong addressMask = 0x000F_FFFF_FFFF_F000;
        ulong table = State.Cr3 & addressMask;
        int levels;
        int entryBytes = 8;
        if ((State.Cr4 & CpuState.Cr4Pae) == 0)
        {
            levels = 2;
            entryBytes = 4;
            table = State.Cr3 & 0xFFFF_F000;
        }
        else if (!State.LongMode)
        {
            // PAE: the four PDPTEs are indexed by bits 31:30 from CR3 (32-byte aligned).
            ulong pdpte = ReadPhysical64((State.Cr3 & 0xFFFF_FFE0) + (((linear >> 30) & 3) * 8));
            if ((pdpte & PteP) == 0)
            {
                throw PageFault(linear, kind, user, present: false);
            }

            table = pdpte & addressMask;
            levels = 2;
        }
        else
        {
            levels = (State.Cr4 & CpuState.Cr4La57) != 0 ? 5 : 4;
        }

        bool allowWrite = true, allowUser = true, allowExec = true;
        for (int level = levels; level >= 1; level--)
        {
            int shift = entryBytes == 4 ? 12 + (10 * (level - 1)) : 12 + (9 * (level - 1));
            ulong index = (linear >> shift) & (entryBytes == 4 ? 0x3FFUL : 0x1FFUL);
            ulong entryGpa = table + (index * (ulong)entryBytes);
            ulong entry = entryBytes == 4 ? ReadPhysical32(entryGpa) : ReadPhysical64(entryGpa);
            if ((entry & PteP) == 0)
            {
                throw PageFault(linear, kind, user, present: false);
            }

            allowWrite &= (entry & PteRw) != 0;
            allowUser &= (entry & PteUs) != 0;
            allowExec &= !(nxe && (entry & PteNx) != 0);
            bool large = level > 1 && (entry & PtePs) != 0 && (entryBytes == 8 || (State.Cr4 & CpuState.Cr4Pse) != 0);
            if (level == 1 || large)
            {
                CheckPermissions(linear, kind, user, write, wp, allowWrite, allowUser, allowExec);
                ulong updated = entry | PteA | (write ? PteD : 0);
                if (updated != entry)
                {
                    if (entryBytes == 4)
                    {
                        WritePhysical32(entryGpa, (uint)updated);
                    }
                    else
                    {
                        WritePhysical64(entryGpa, updated);
                    }
                }

                ulong pageMask = (1UL << shift) - 1;
                ulong frame = entryBytes == 4
                    ? (large ? ((entry & 0xFFC0_0000) | ((entry & 0x1FE000) << 19)) : entry & 0xFFFF_F000)
                    : entry & addressMask & ~pageMask;
                return frame | (linear & pageMask);
            }

            if ((entry & PteA) == 0)
            {
                if (entryBytes == 4)
                {
                    WritePhysical32(entryGpa, (uint)(entry | PteA));
                }
                else
                {
                    WritePhysical64(entryGpa, entry | PteA);
                }
            }

            table = entry & (entryBytes == 4 ? 0xFFFF_F000 : addressMask);
        }

        throw new InvalidOperationException("unreachable page walk level");
    }

    private void CheckPermissions(ulong linear, Access kind, bool user, bool write, bool wp, bool allowWrite, bool allowUser, bool allowExec)
    {
        if (user && !allowUser)
        {
            throw PageFault(linear, kind, user, present: true);
        }

        if (write && !allowWrite && (user || wp))
        {
            throw PageFault(linear, kind, user, present: true);
        }

        if (kind == Access.Fetch && !allowExec)
        {
            throw PageFault(linear, kind, user, present: true);
        }

        if (!user && allowUser && SupervisorKeptFromUserPage(kind))
        {
            throw PageFault(linear, kind, user, present: true);
        }
    }

    /// <summary>
    /// SMEP: ring 0 never runs code from a user page. SMAP: it reads and writes user pages only explicitly and with
    /// RFLAGS.AC set; implicit supervisor accesses (descriptor tables, IDT, TSS) never may (SDM Vol. 3A §4.6.1).
    /// </summary>
    private bool SupervisorKeptFromUserPage(Access kind) => kind == Access.Fetch
        ? (State.Cr4 & CpuState.Cr4Smep) != 0
        : (State.Cr4 & CpuState.Cr4Smap) != 0 && (implicitSupervisor || (State.SystemFlags & CpuState.FlagAc) == 0);

    /// <summary>The #PF and its error code; I/D is reported only where NX or SMEP can make a fetch fault (SDM Vol. 3A §4.7).</summary>
    private GuestFault PageFault(ulong linear, Access kind, bool user, bool present)
    {
        State.Cr2 = linear;
        uint code = (present ? 1u : 0) | (kind == Access.Write ? 2u : 0) | (user ? 4u : 0)
            | (kind == Access.Fetch && ((State.Efer & CpuState.EferNxe) != 0 || (State.Cr4 & CpuState.Cr4Smep) != 0) ? 0x10u : 0);
        return new GuestFault(Vector.PageFault, code);
    }

    /// <summary>Fills the TLB entry for <paramref name="linear"/> after a successful walk; null for MMIO.</summary>
    private byte* FillTlb(ulong linear, Access kind, ulong gpa)
    {
        var (frame, isPrivate) = SplitGpa(gpa);
        // SEV guests' instruction fetches are always private too.
        isPrivate |= kind == Access.Fetch && platform.ConfidentialBitMeansPrivate;
        bool write = kind == Access.Write;
        byte* page = platform.RamPage(frame >> 12, isPrivate, write);
        if (page == null)
        {
            return null;
        }

        // A write to a page holding decoded code must bump its generation: never cache it for writing. Nor
        // cache what an implicit supervisor access found: the TLB holds what the current CPL may do.
        if (write && codeFrames.Contains(frame >> 12))
        {
            InvalidateCode(frame >> 12);
        }
        else if (!implicitSupervisor)
        {
            int i = (int)((linear >> 12) & (TlbSize - 1));
            tlbTag[(int)kind][i] = (linear & ~0xFFFUL) | 1;
            tlbHost[(int)kind][i] = (nint)page;
            tlbGpa[(int)kind][i] = gpa & ~0xFFFUL;
        }

        return page + (gpa & 0xFFF);
    }

    private (ulong Frame, bool Private) SplitGpa(ulong gpa) => platform.DecodeGpa(gpa);

    /// <summary>
    /// The frame number code pages are tracked by: without the confidential bit, as writes (<see cref="FillTlb"/>)
    /// see it, so an SEV guest's private code and its writes to it name the same page.
    /// </summary>
    private ulong CodeFrameOf(ulong gpa) => SplitGpa(gpa).Frame >> 12;

    /// <summary>
    /// Marks the frame of <paramref name="gpa"/> as holding decoded code. A write TLB entry filled before it held
    /// code would let writes skip the invalidation (a guest that writes a function, runs it, then patches it):
    /// those entries go.
    /// </summary>
    private void AddCodeFrame(ulong gpa)
    {
        ulong frame = CodeFrameOf(gpa);
        if (!codeFrames.Add(frame))
        {
            return;
        }

        var tags = tlbTag[(int)Access.Write];
        var gpas = tlbGpa[(int)Access.Write];
        for (int i = 0; i < TlbSize; i++)
        {
            if (tags[i] != 0 && CodeFrameOf(gpas[i]) == frame)
            {
                tags[i] = 0;
            }
        }
    }

    /// <summary>A page-table page. SEV guests' table walks are always private, whatever the entry's C-bit says (AMD APM 15.34).</summary>
    private byte* PhysicalPage(ulong gpa, bool write)
    {
        var (frame, isPrivate) = SplitGpa(gpa);
        isPrivate |= platform.ConfidentialBitMeansPrivate;
        byte* page = platform.RamPage(frame >> 12, isPrivate, write);
        if (page == null)
        {
            // Page tables and descriptor tables in MMIO are not supported: the guest sees a #GP(0), as it
            // would if the access aborted.
            throw GuestFault.Gp();
        }

        if (write && codeFrames.Contains(frame >> 12))
        {
            InvalidateCode(frame >> 12);
        }

        return page + (gpa & 0xFFF);
    }

    private ulong ReadPhysical64(ulong gpa) => Unsafe.ReadUnaligned<ulong>(PhysicalPage(gpa, write: false));

    private uint ReadPhysical32(ulong gpa) => Unsafe.ReadUnaligned<uint>(PhysicalPage(gpa, write: false));

    private void WritePhysical64(ulong gpa, ulong value) => Unsafe.WriteUnaligned(PhysicalPage(gpa, write: true), value);

    private void WritePhysical32(ulong gpa, uint value) => Unsafe.WriteUnaligned(PhysicalPage(gpa, write: true), value);
}
