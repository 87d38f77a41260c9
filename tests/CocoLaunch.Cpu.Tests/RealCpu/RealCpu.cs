using System.Buffers.Binary;
using System.Diagnostics;
using System.Runtime.InteropServices;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace CocoLaunch.Cpu.Tests;

/// <summary>
/// The host CPU as a test oracle (cpu-emulator.md §6.4): one KVM VM with one vCPU, reused for every run because
/// creating them costs milliseconds and a run well under a millisecond. Guest RAM is <see cref="MemorySize"/>
/// bytes at GPA 0, identity-mapped; the code under test runs from <see cref="CodeAddress"/> up to the HLT appended
/// to it, by default in 64-bit user mode (<see cref="RealCpuMode.Long64"/>), the one mode that runs on the
/// silicon under PVM as well as under SVM/VMX. Low memory holds the tables and handlers
/// (<see cref="RealCpuImage"/>); code must not write there, and must terminate (there is no watchdog).
/// </summary>
internal sealed unsafe partial class RealCpu : IDisposable
{
    public const ulong MemorySize = 0x40_0000;

    /// <summary>Where the code is placed in Long64 and Protected32 (linear = physical), followed by HLT.</summary>
    public const ulong CodeAddress = 0x10_0000;

    /// <summary>The scratch page in Long64 and Protected32.</summary>
    public const ulong ScratchAddress = 0x20_0000;
    public const int ScratchSize = 4096;

    /// <summary>RSP when the input leaves it 0 (Long64, Protected32); the page below it reads as zero.</summary>
    public const ulong StackTop = 0x8_0000;

    /// <summary>Real16 puts the code at CS:0 with CS = 0x1000 and the scratch page at DS:0 with DS = ES = SS = 0x2000.</summary>
    public const ushort Real16CodeSegment = 0x1000;
    public const ushort Real16DataSegment = 0x2000;
    public const ulong Real16StackTop = 0xF000;

    public const int MaxCodeSize = 0x1000 - 1;

    private static readonly Lazy<(RealCpu? Cpu, string WhyNot)> SharedInstance = new(() => (TryOpen(out string whyNot), whyNot));

    private readonly Lock gate = new();
    private readonly Dictionary<RealCpuMode, bool> native = [];
    private readonly int kvmFd;
    private readonly int vmFd;
    private readonly int vcpuFd;
    private readonly byte* memory;
    private readonly byte* run;
    private readonly nuint runSize;
    private readonly KvmSregs baseline;
    private bool disposed;

    private RealCpu(int kvmFd, int vmFd, int vcpuFd, byte* memory, byte* run, nuint runSize, KvmSregs baseline)
    {
        this.kvmFd = kvmFd;
        this.vmFd = vmFd;
        this.vcpuFd = vcpuFd;
        this.memory = memory;
        this.run = run;
        this.runSize = runSize;
        this.baseline = baseline;
    }

    /// <summary>One instance for the whole test run (tests in parallel classes share it; <see cref="Run"/> serialises).</summary>
    public static RealCpu? Shared => SharedInstance.Value.Cpu;

    public static string SharedWhyNot => SharedInstance.Value.WhyNot;

    private Span<byte> Memory => new(memory, (int)MemorySize);

    /// <summary>Opens /dev/kvm and builds the VM; null with the reason when KVM is missing, inaccessible or broken.</summary>
    public static RealCpu? TryOpen(out string whyNot)
    {
        KvmNative.CheckLayouts();
        if (!File.Exists("/dev/kvm"))
        {
            whyNot = "/dev/kvm does not exist";
            return null;
        }

        int kvm = KvmNative.Open("/dev/kvm", KvmNative.ORdWr | KvmNative.OCloexec);
        if (kvm < 0)
        {
            whyNot = $"cannot open /dev/kvm: errno {Marshal.GetLastPInvokeError()}";
            return null;
        }

        RealCpu? cpu = null;
        try
        {
            cpu = Create(kvm);
            cpu.Prefault();
            whyNot = string.Empty;
            return cpu;
        }
        catch (InvalidOperationException e)
        {
            if (cpu is null)
            {
                KvmNative.Close(kvm);
            }
            else
            {
                cpu.Dispose();
            }

            whyNot = "KVM is present but unusable: " + e.Message;
            return null;
        }
    }

    /// <summary>Runs <paramref name="code"/> + HLT from the mode's code address and reports the state at the HLT or fault.</summary>
    public RealCpuResult Run(ReadOnlySpan<byte> code, RealCpuInput input, RealCpuMode mode = RealCpuMode.Long64)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (code.Length > MaxCodeSize)
        {
            throw new ArgumentException($"code is {code.Length} bytes, at most {MaxCodeSize}", nameof(code));
        }

        lock (gate)
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            return RunLocked(code, input, mode);
        }
    }

    /// <summary>
    /// Writes every page of guest RAM once from user mode (OR with 0, so nothing changes). Under PVM the host
    /// otherwise maps guest pages lazily, and a host-side fault in the middle of an instruction is invisible to
    /// the guest but restarts it: AMD's ENTER write-probes the final RSP after its pushes, so a fault there ran the
    /// pushes twice, the second time over the frame the first one wrote.
    /// </summary>
    private void Prefault()
    {
        var a = new Assembler(64);
        var loop = a.CreateLabel();
        a.xor(esi, esi);
        a.mov(ecx, (int)(MemorySize / 0x1000));
        a.Label(ref loop);
        a.or(__byte_ptr[rsi], 0);
        a.add(rsi, 0x1000);
        a.dec(ecx);
        a.jnz(loop);
        using var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), CodeAddress);
        var result = Run(stream.ToArray(), new RealCpuInput());
        if (result.ExceptionVector is int vector)
        {
            throw new InvalidOperationException($"prefaulting guest memory raised vector {vector} at 0x{result.Rip:X}");
        }
    }

    /// <summary>
    /// Whether code in <paramref name="mode"/> runs on the silicon rather than in KVM's instruction emulator (see
    /// <see cref="RealCpuMode"/>). Measured once per mode: a 20,000-iteration loop takes tens of microseconds
    /// natively and tens of milliseconds emulated.
    /// </summary>
    public bool IsNative(RealCpuMode mode)
    {
        lock (gate)
        {
            if (!native.TryGetValue(mode, out bool value))
            {
                int bitness = mode switch { RealCpuMode.Long64 or RealCpuMode.Long64Kernel => 64, RealCpuMode.Real16 => 16, _ => 32 };
                var a = new Assembler(bitness);
                var loop = a.CreateLabel();
                a.mov(ecx, 20_000);
                a.Label(ref loop);
                a.dec(ecx);
                a.jnz(loop);
                using var stream = new MemoryStream();
                a.Assemble(new StreamCodeWriter(stream), mode == RealCpuMode.Real16 ? 0 : CodeAddress);
                var best = TimeSpan.MaxValue;
                for (int i = 0; i < 2; i++)
                {
                    long start = Stopwatch.GetTimestamp();
                    RunLocked(stream.ToArray(), new RealCpuInput(), mode);
                    var elapsed = Stopwatch.GetElapsedTime(start);
                    best = elapsed < best ? elapsed : best;
                }

                value = best < TimeSpan.FromMilliseconds(10);
                native[mode] = value;
            }

            return value;
        }
    }

    public void Dispose()
    {
        lock (gate)
        {
            if (disposed)
            {
                return;
            }

            disposed = true;
            KvmNative.Munmap((nint)run, runSize);
            KvmNative.Close(vcpuFd);
            KvmNative.Munmap((nint)memory, (nuint)MemorySize);
            KvmNative.Close(vmFd);
            KvmNative.Close(kvmFd);
        }
    }

    private RealCpuResult RunLocked(ReadOnlySpan<byte> code, RealCpuInput input, RealCpuMode mode)
    {
        ulong codeAddress = mode == RealCpuMode.Real16 ? (ulong)Real16CodeSegment << 4 : CodeAddress;
        ulong scratchAddress = mode == RealCpuMode.Real16 ? (ulong)Real16DataSegment << 4 : ScratchAddress;
        ulong stackTop = mode == RealCpuMode.Real16 ? Real16StackTop : StackTop;

        var mem = Memory;
        code.CopyTo(mem[(int)codeAddress..]);
        mem[(int)codeAddress + code.Length] = 0xF4;
        input.Scratch.AsSpan(0, ScratchSize).CopyTo(mem[(int)scratchAddress..]);
        ulong stackBase = mode == RealCpuMode.Real16 ? scratchAddress + stackTop : stackTop;
        mem[(int)(stackBase - 0x1000)..(int)stackBase].Clear();
        var record = mem.Slice((int)RealCpuImage.Record, RealCpuImage.RecordSize);
        record.Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(record, ulong.MaxValue);

        var sregs = SregsFor(mode);
        KvmNative.Checked(vcpuFd, KvmNative.KvmSetSregs, &sregs, "KVM_SET_SREGS");
        var regs = default(KvmRegs);
        for (int i = 0; i < RealCpuInput.RegisterCount; i++)
        {
            regs.SetGpr(i, input.Gprs[i]);
        }

        if (input.Gprs[RealCpuInput.Rsp] == 0)
        {
            regs.SetGpr(RealCpuInput.Rsp, stackTop);
        }

        regs.Values[KvmRegs.Rip] = mode == RealCpuMode.Real16 ? 0 : codeAddress;
        regs.Values[KvmRegs.Rflags] = input.Rflags | 2;
        KvmNative.Checked(vcpuFd, KvmNative.KvmSetRegs, &regs, "KVM_SET_REGS");

        RunToHalt();

        KvmNative.Checked(vcpuFd, KvmNative.KvmGetRegs, &regs, "KVM_GET_REGS");
        var gprs = new ulong[RealCpuInput.RegisterCount];
        for (int i = 0; i < gprs.Length; i++)
        {
            gprs[i] = regs.GetGpr(i);
        }

        byte[] scratch = mem.Slice((int)scratchAddress, ScratchSize).ToArray();
        ulong vectorSlot = BinaryPrimitives.ReadUInt64LittleEndian(record);
        if ((vectorSlot & 0xFFFF) == 0xFFFF)
        {
            return new RealCpuResult { Gprs = gprs, Rip = regs.Values[KvmRegs.Rip], Rflags = regs.Values[KvmRegs.Rflags], Scratch = scratch };
        }

        int vector = (int)(vectorSlot & 0xFF);
        var saved = new ulong[RealCpuImage.RecordSize / 8];
        for (int i = 0; i < saved.Length; i++)
        {
            saved[i] = BinaryPrimitives.ReadUInt64LittleEndian(record[(i * 8)..]);
        }

        ulong Slot(int offset) => saved[offset / 8];
        gprs[RealCpuInput.Rsp] = mode switch
        {
            RealCpuMode.Long64 or RealCpuMode.Long64Kernel => Slot(RealCpuImage.RecordRsp),
            RealCpuMode.Protected32 or RealCpuMode.Protected32Kernel => (gprs[RealCpuInput.Rsp] & ~0xFFFF_FFFFUL) | Slot(RealCpuImage.RecordRsp),
            _ => (gprs[RealCpuInput.Rsp] & ~0xFFFFUL) | Slot(RealCpuImage.RecordRsp),
        };
        ulong rip = Slot(RealCpuImage.RecordRip);
        const ulong resumeFlag = 1 << 16;
        ulong rflags = Slot(RealCpuImage.RecordRflags) & ~resumeFlag;

        // At CPL 3 the appended HLT raises #GP(0): that is the normal end, reported as if HLT had run.
        bool user = mode is RealCpuMode.Long64 or RealCpuMode.Protected32;
        if (user && vector == 13 && Slot(RealCpuImage.RecordErrorCode) == 0 && rip == codeAddress + (ulong)code.Length)
        {
            return new RealCpuResult { Gprs = gprs, Rip = rip + 1, Rflags = rflags, Scratch = scratch };
        }

        return new RealCpuResult
        {
            Gprs = gprs,
            Rip = rip,
            Rflags = rflags,
            Scratch = scratch,
            ExceptionVector = vector,
            ErrorCode = mode != RealCpuMode.Real16 && RealCpuImage.HasErrorCode(vector) ? Slot(RealCpuImage.RecordErrorCode) : null,
        };
    }

    /// <summary>KVM_RUN until KVM_EXIT_HLT, answering port I/O (OUT ignored, IN reads zeros).</summary>
    private void RunToHalt()
    {
        for (int exits = 0; ; exits++)
        {
            KvmNative.Checked(vcpuFd, KvmNative.KvmRun, 0, "KVM_RUN");
            int reason = (int)BinaryPrimitives.ReadUInt32LittleEndian(new ReadOnlySpan<byte>(run + KvmNative.RunExitReason, 4));
            var union = new ReadOnlySpan<byte>(run + KvmNative.RunExitUnion, 16);
            switch (reason)
            {
                case KvmNative.ExitHlt:
                    return;
                case KvmNative.ExitIo when exits < 100_000:
                    if (run[KvmNative.RunIoDirection] == KvmNative.IoDirectionIn)
                    {
                        int bytes = run[KvmNative.RunIoSize] * (int)BinaryPrimitives.ReadUInt32LittleEndian(new ReadOnlySpan<byte>(run + KvmNative.RunIoCount, 4));
                        ulong offset = BinaryPrimitives.ReadUInt64LittleEndian(new ReadOnlySpan<byte>(run + KvmNative.RunIoDataOffset, 8));
                        new Span<byte>(run + offset, bytes).Clear();
                    }

                    break;
                case KvmNative.ExitShutdown:
                    throw new InvalidOperationException("KVM_EXIT_SHUTDOWN: the guest triple-faulted (a fault inside an exception handler?)");
                case KvmNative.ExitFailEntry:
                    throw new InvalidOperationException($"KVM_EXIT_FAIL_ENTRY: hardware entry failure reason 0x{BinaryPrimitives.ReadUInt64LittleEndian(union):X}");
                case KvmNative.ExitInternalError:
                    throw new InvalidOperationException($"KVM_EXIT_INTERNAL_ERROR: suberror {BinaryPrimitives.ReadUInt32LittleEndian(union)}");
                default:
                    throw new InvalidOperationException($"unexpected KVM exit {reason} after {exits} exits");
            }
        }
    }
}
