using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace CocoLaunch.Cpu.Tests;

/// <summary>
/// The slice of libc and the KVM uAPI that <see cref="RealCpu"/> drives (cpu-emulator.md §6.4). Struct sizes are
/// checked by <see cref="CheckLayouts"/> before any ioctl, because a wrong size is an EINVAL at best and a
/// corrupted stack at worst.
/// </summary>
internal static unsafe partial class KvmNative
{
    public const uint KvmGetApiVersion = 0xAE00;
    public const uint KvmCreateVm = 0xAE01;
    public const uint KvmGetVcpuMmapSize = 0xAE04;
    public const uint KvmGetSupportedCpuid = 0xC008AE05;
    public const uint KvmCreateVcpu = 0xAE41;
    public const uint KvmSetUserMemoryRegion = 0x4020AE46;
    public const uint KvmRun = 0xAE80;
    public const uint KvmGetRegs = 0x8090AE81;
    public const uint KvmSetRegs = 0x4090AE82;
    public const uint KvmGetSregs = 0x8138AE83;
    public const uint KvmSetSregs = 0x4138AE84;
    public const uint KvmSetCpuid2 = 0x4008AE90;

    public const int ExitIo = 2;
    public const int ExitDebug = 4;
    public const int ExitHlt = 5;
    public const int ExitMmio = 6;
    public const int ExitShutdown = 8;
    public const int ExitFailEntry = 9;
    public const int ExitInternalError = 17;

    /// <summary>kvm_run: exit_reason (u32).</summary>
    public const int RunExitReason = 8;

    /// <summary>kvm_run: the exit union starts here (io.direction, fail_entry.hardware_entry_failure_reason, internal.suberror).</summary>
    public const int RunExitUnion = 32;
    public const int RunIoDirection = 32;
    public const int RunIoSize = 33;
    public const int RunIoPort = 34;
    public const int RunIoCount = 36;
    public const int RunIoDataOffset = 40;

    public const int IoDirectionIn = 0;

    public const int ORdWr = 2;
    public const int OCloexec = 0x80000;
    public const int ProtRead = 1;
    public const int ProtWrite = 2;
    public const int MapShared = 1;
    public const int MapPrivate = 2;
    public const int MapAnonymous = 0x20;
    public const int MapNoReserve = 0x4000;
    public const int Eintr = 4;

    /// <summary>KVM_GET_SUPPORTED_CPUID fails with E2BIG below the kernel's count; 256 leaves room on current kernels.</summary>
    public const int MaxCpuidEntries = 256;

    public static readonly nint MapFailed = -1;

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    public static partial int Ioctl(int fd, nuint request, nint arg);

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    public static partial int Ioctl(int fd, nuint request, void* arg);

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    public static partial nint Mmap(nint addr, nuint length, int prot, int flags, int fd, nint offset);

    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    public static partial int Munmap(nint addr, nuint length);

    /// <summary>Throws when a struct does not have the kernel's size (the ioctl numbers encode these sizes too).</summary>
    public static void CheckLayouts()
    {
        Check<KvmRegs>(144);
        Check<KvmSegment>(24);
        Check<KvmDtable>(16);
        Check<KvmSregs>(312);
        Check<KvmUserspaceMemoryRegion>(32);
        Check<KvmCpuidEntry2>(40);

        static void Check<T>(int expected)
            where T : unmanaged
        {
            if (Unsafe.SizeOf<T>() != expected)
            {
                throw new InvalidOperationException($"{typeof(T).Name} is {Unsafe.SizeOf<T>()} bytes, the kernel's is {expected}");
            }
        }
    }

    /// <summary>An ioctl that must succeed; the message names it and carries errno.</summary>
    public static int Checked(int fd, uint request, nint arg, string name)
    {
        int r;
        do
        {
            r = Ioctl(fd, request, arg);
        }
        while (r < 0 && Marshal.GetLastPInvokeError() == Eintr);

        return r >= 0 ? r : throw new InvalidOperationException($"{name} failed: errno {Marshal.GetLastPInvokeError()}");
    }

    public static int Checked(int fd, uint request, void* arg, string name) => Checked(fd, request, (nint)arg, name);
}

/// <summary>struct kvm_regs: RAX, RBX, RCX, RDX, RSI, RDI, RSP, RBP, R8–R15, RIP (@128), RFLAGS (@136).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct KvmRegs
{
    /// <summary>Index into <see cref="Values"/> for each GPR in x86 encoding order (RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8–R15).</summary>
    public static ReadOnlySpan<byte> FromEncoding => [0, 2, 3, 1, 6, 7, 4, 5, 8, 9, 10, 11, 12, 13, 14, 15];

    public const int Rip = 16;
    public const int Rflags = 17;

    public fixed ulong Values[18];

    public ulong GetGpr(int encoding) => Values[FromEncoding[encoding]];

    public void SetGpr(int encoding, ulong value) => Values[FromEncoding[encoding]] = value;
}

/// <summary>struct kvm_segment: base, limit, selector, then one byte each for type … unusable, and a pad byte.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct KvmSegment
{
    public ulong Base;
    public uint Limit;
    public ushort Selector;
    public byte Type;
    public byte Present;
    public byte Dpl;
    public byte Db;
    public byte S;
    public byte L;
    public byte G;
    public byte Avl;
    public byte Unusable;
    public byte Padding;
}

/// <summary>struct kvm_dtable: base, limit and three u16 of padding.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct KvmDtable
{
    public ulong Base;
    public ushort Limit;
    public ushort Padding0;
    public ushort Padding1;
    public ushort Padding2;
}

/// <summary>struct kvm_sregs: eight segments, GDT @192, IDT @208, CR0 @224 … EFER @264, APIC base, interrupt bitmap.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct KvmSregs
{
    public KvmSegment Cs;
    public KvmSegment Ds;
    public KvmSegment Es;
    public KvmSegment Fs;
    public KvmSegment Gs;
    public KvmSegment Ss;
    public KvmSegment Tr;
    public KvmSegment Ldt;
    public KvmDtable Gdt;
    public KvmDtable Idt;
    public ulong Cr0;
    public ulong Cr2;
    public ulong Cr3;
    public ulong Cr4;
    public ulong Cr8;
    public ulong Efer;
    public ulong ApicBase;
    public fixed ulong InterruptBitmap[4];
}

/// <summary>struct kvm_userspace_memory_region.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct KvmUserspaceMemoryRegion
{
    public uint Slot;
    public uint Flags;
    public ulong GuestPhysAddr;
    public ulong MemorySize;
    public ulong UserspaceAddr;
}

/// <summary>struct kvm_cpuid_entry2 (the array that follows struct kvm_cpuid2's nent and padding).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct KvmCpuidEntry2
{
    public uint Function;
    public uint Index;
    public uint Flags;
    public uint Eax;
    public uint Ebx;
    public uint Ecx;
    public uint Edx;
    public fixed uint Padding[3];
}
