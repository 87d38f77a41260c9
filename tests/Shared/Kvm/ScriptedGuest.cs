using CocoLaunch.Abi;
using CocoLaunch.Cpu;
using CocoLaunch.Kvm;

namespace CocoLaunch.Tests.Shared;

/// <summary>
/// What a scripted guest does next, at the level KVM sees it: a data access, a hypercall, a halt. A script runs as a
/// processor (<see cref="IGuestCpu"/>) on the platform KVM hands every vCPU, so its accesses take KVM's fault path
/// and its exits take the vendor backend's handlers, exactly as the emulated CPU's do.
/// </summary>
internal abstract record GuestAction
{
    /// <summary>
    /// A data read. <paramref name="Private"/> sets or clears the access's confidential bit (TDX shared bit, SNP
    /// C-bit) in the address; null leaves the address as given. A SW_PROTECTED VM has no such bit: its attributes decide.
    /// </summary>
    public sealed record Read(Gpa Address, int Length, bool? Private = null) : GuestAction;

    public sealed record Write(Gpa Address, byte[] Data, bool? Private = null) : GuestAction;

    /// <summary>VMCALL with RAX = <paramref name="Nr"/>, RBX/RCX/RDX/RSI = a0..a3, at <paramref name="Cpl"/>, in 64-bit mode or not.</summary>
    public sealed record Hypercall(ulong Nr, ulong A0, ulong A1, ulong A2, ulong A3 = 0, int Cpl = 0, bool LongMode = true) : GuestAction;

    public sealed record Halt : GuestAction;
}

/// <summary>What an action gave the guest: bytes read, or RAX after a hypercall.</summary>
internal sealed record GuestResult(byte[]? Data = null, ulong? Rax = null);

/// <summary>A guest that performs a list of actions and records what each returned; it shuts down at the end.</summary>
internal class ScriptedGuest : IGuestCpu
{
    private const ulong Page = PageSize.Size4K;
    private const int VmcallLength = 3;
    private readonly IEnumerator<GuestAction> script;
    private IPlatform? platform;
    private GuestAction? current;
    private byte[]? mmioData;
    private int mmioDone;
    private bool hypercallIssued;
    private CpuExit? lastExit;

    public ScriptedGuest(params GuestAction[] actions)
        : this((IEnumerable<GuestAction>)actions)
    {
    }

    protected ScriptedGuest(IEnumerable<GuestAction> actions) => script = actions.GetEnumerator();

    public List<GuestResult> Results { get; } = [];

    public CpuState State { get; } = LongModeState();

    public long InstructionsRetired { get; private set; }

    public (ulong Rip, int Length) LastExitInstruction => (State.Rip, VmcallLength);

    /// <summary>Hands the script the platform of the vCPU it runs on (KVM_SET_REGS for a script).</summary>
    public IGuestCpu Attach(IPlatform p)
    {
        platform = p;
        return this;
    }

    public CpuExit Run(long maxInstructions)
    {
        var p = platform ?? throw new InvalidOperationException("the script was never attached to a vCPU");
        while (true)
        {
            if (maxInstructions-- <= 0)
            {
                return lastExit = new CpuExit.InstructionLimit();
            }

            current ??= script.MoveNext() ? script.Current : null;
            if (current is null)
            {
                return lastExit = new CpuExit.Shutdown("the guest program ended");
            }

            switch (Step(p, current))
            {
                case null:
                    Retire(); // completed inside the guest
                    continue;
                case CpuExit.Halt halt:
                    Retire();
                    return lastExit = halt;
                case var exit:
                    // A stopped access runs again; an MMIO piece or a hypercall goes on at the next entry.
                    return lastExit = exit;
            }
        }
    }

    private void Retire()
    {
        current = null;
        mmioData = null;
        mmioDone = 0;
        hypercallIssued = false;
        InstructionsRetired++;
        State.Rip += 16;
    }

    /// <summary>One step of the current action: null when it completed in the guest, else the exit it made.</summary>
    private CpuExit? Step(IPlatform p, GuestAction action)
    {
        switch (action)
        {
            case GuestAction.Halt:
                return new CpuExit.Halt(State.Rip);
            case GuestAction.Hypercall when hypercallIssued:
                Results.Add(new GuestResult(Rax: State.Gpr[0])); // KVM wrote RAX before re-entering
                return null;
            case GuestAction.Hypercall h:
                (State.Gpr[0], State.Gpr[3], State.Gpr[1], State.Gpr[2], State.Gpr[6]) = (h.Nr, h.A0, h.A1, h.A2, h.A3);
                SetMode(h.Cpl, h.LongMode);
                hypercallIssued = true;
                return new CpuExit.InstructionExit(ExitInstruction.Vmcall, State.Rip, VmcallLength);
            case GuestAction.Read r:
                return Access(p, r.Address, r.Private, r.Length, null);
            case GuestAction.Write w:
                return Access(p, w.Address, w.Private, w.Data.Length, w.Data);
            default:
                throw new InvalidOperationException($"unknown action {action}");
        }
    }

    private unsafe CpuExit? Access(IPlatform p, Gpa address, bool? isPrivate, int length, byte[]? write)
    {
        ulong gpa = WithConfidentialBit(p, address.Value, isPrivate);
        if ((gpa % Page) + (ulong)length > Page)
        {
            throw new ArgumentException($"guest access at {address} of {length} bytes crosses a page");
        }

        if (mmioData is not null)
        {
            return NextMmio(gpa, write);
        }

        var (frame, accessPrivate) = p.DecodeGpa(gpa);
        byte* page;
        try
        {
            page = p.RamPage(frame / Page, accessPrivate, write is not null);
        }
        catch (PlatformStop stop)
        {
            return new CpuExit.Stopped(stop.Reason);
        }
        catch (PlatformFault fault)
        {
            throw new InvalidOperationException($"the scripted guest took vector {fault.Vector} at {address}, which a script cannot handle");
        }

        if (page == null)
        {
            // Not RAM: an MMIO access, in pieces of at most 8 bytes as the CPU makes them.
            mmioData = write ?? new byte[length];
            mmioDone = 0;
            return NextMmio(gpa, write);
        }

        var bytes = new Span<byte>(page + (gpa % Page), length);
        if (write is not null)
        {
            write.CopyTo(bytes);
            Results.Add(new GuestResult());
        }
        else
        {
            Results.Add(new GuestResult(Data: bytes.ToArray()));
        }

        return null;
    }

    private CpuExit? NextMmio(ulong gpa, byte[]? write)
    {
        var data = mmioData!;
        if (mmioDone == data.Length)
        {
            Results.Add(write is null ? new GuestResult(Data: data) : new GuestResult());
            return null;
        }

        int size = Math.Min(8, data.Length - mmioDone);
        var at = (gpa & ~platform!.ConfidentialGpaBit) + (ulong)mmioDone;
        bool isPrivate = platform.DecodeGpa(gpa).IsPrivate;
        if (write is not null)
        {
            Span<byte> value = stackalloc byte[8];
            data.AsSpan(mmioDone, size).CopyTo(value);
            mmioDone += size;
            return new CpuExit.MmioWrite(at, size, BitConverter.ToUInt64(value), isPrivate);
        }

        return new CpuExit.MmioRead(at, size, isPrivate);
    }

    private static ulong WithConfidentialBit(IPlatform p, ulong gpa, bool? isPrivate)
    {
        ulong bit = p.ConfidentialGpaBit;
        if (bit == 0 || isPrivate is not { } wantPrivate)
        {
            return gpa;
        }

        return wantPrivate == p.ConfidentialBitMeansPrivate ? gpa | bit : gpa & ~bit;
    }

    public void CompleteMmioRead(ulong value)
    {
        if (lastExit is not CpuExit.MmioRead read || mmioData is null)
        {
            throw new InvalidOperationException("the last exit was not an MMIO read");
        }

        BitConverter.GetBytes(value).AsSpan(0, read.Size).CopyTo(mmioData.AsSpan(mmioDone));
        mmioDone += read.Size;
    }

    public void CompletePortIn(uint value) => throw new InvalidOperationException("a script makes no port I/O");

    public void InjectException(int vector, uint? errorCode, CpuExit.InstructionExit? atInstruction = null) =>
        throw new InvalidOperationException($"the platform injected vector {vector} into a scripted guest, which cannot handle it");

    public void InjectFaultAtLastExit(int vector, uint? errorCode) => InjectException(vector, errorCode);

    public bool TranslateOrFault(ulong linear, CpuExit.InstructionExit atInstruction, out ulong gpa)
    {
        gpa = linear;
        return true;
    }

    public void FlushTlb()
    {
    }

    private void SetMode(int cpl, bool longMode)
    {
        State.Efer = longMode ? State.Efer | CpuState.EferLma : State.Efer & ~CpuState.EferLma;
        ref var cs = ref State.Cs;
        cs.Attributes = (ushort)((cs.Attributes & ~0x60) | (cpl << 5));
    }

    /// <summary>64-bit mode at CPL 0 with paging on, as a booted kernel runs.</summary>
    private static CpuState LongModeState()
    {
        var s = new CpuState { Cr0 = CpuState.Cr0Pe | CpuState.Cr0Pg, Efer = CpuState.EferLme | CpuState.EferLma };
        s.Cs = new Segment(0x10, 0, 0xFFFF_FFFF, 0x29B); // present code, L = 1
        return s;
    }
}

/// <summary>A guest that repeats one action (the selftests' spinning guest loops) 1000 times, then halts.</summary>
internal sealed class LoopingGuest(GuestAction action) : ScriptedGuest(Repeat(action))
{
    public int Completed => Results.Count;

    public GuestResult? Last => Results.Count == 0 ? null : Results[^1];

    private static IEnumerable<GuestAction> Repeat(GuestAction action)
    {
        for (int i = 0; i < 1000; i++)
        {
            yield return action;
        }

        yield return new GuestAction.Halt();
    }
}

/// <summary>Attaching a script to a vCPU: KVM hands it the vCPU's platform, as it hands the emulated CPU.</summary>
internal static class ScriptedGuestExtensions
{
    public static void SetGuest(this VcpuFd vcpu, ScriptedGuest guest) => vcpu.SetGuest(guest.Attach);
}
