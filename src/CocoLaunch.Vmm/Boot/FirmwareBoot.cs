using System.Diagnostics;
using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Cpu;
using CocoLaunch.Kvm;

namespace CocoLaunch.Vmm.Boot;

/// <summary>How a boot ended, and what it cost.</summary>
public sealed record BootResult(int? ExitStatus, string Stop, long Instructions, TimeSpan Elapsed, CpuCounters? Counters = null)
{
    public double Mips => Instructions / Elapsed.TotalSeconds / 1e6;
}

/// <summary>
/// Boots a raw flat firmware image ending at 4 GiB (as <c>qemu -bios</c> loads it) on a DEFAULT VM of the KVM
/// model: RAM below 3 GiB and above 4 GiB and the image as a read-only memslot, one vCPU on the emulated CPU,
/// and one exit loop serving the debug devices until the guest asks to stop.
/// </summary>
public static class FirmwareBoot
{
    private const ulong LowRamLimit = 0xC000_0000;

    /// <summary>RAM a boot accepts: a megabyte-scale stack and page tables at least, and no more than the host model maps.</summary>
    public const ulong MinMemory = 2UL << 20, MaxMemory = 1UL << 40;

    /// <param name="timeout">Wall-clock limit; null for none. A guest that never exits (an image of zeros) stops here.</param>
    public static BootResult Run(ReadOnlySpan<byte> firmware, ulong memoryBytes, Stream console, long maxInstructions, CpuState? resetState = null, Stream? serial = null, TimeSpan? timeout = null)
    {
        if (memoryBytes is < MinMemory or > MaxMemory || memoryBytes % PageSize.Size4K != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(memoryBytes), memoryBytes, $"boot memory must be whole 4 KiB pages from 0x{MinMemory:x} to 0x{MaxMemory:x} bytes");
        }

        var kvm = new Kvm.Kvm();
        var vm = kvm.CreateVm(KvmVmType.Default);
        ulong low = Math.Min(memoryBytes, LowRamLimit);
        AddSlot(vm, 0, Gpa.Zero, low, KvmMemFlags.None);
        if (memoryBytes > low)
        {
            AddSlot(vm, 1, Gpa.FourGiB, memoryBytes - low, KvmMemFlags.None);
        }

        // The image is ROM, as QEMU maps -bios: reads see it, writes leave as MMIO exits.
        var rom = AddSlot(vm, 2, new Gpa(Gpa.FourGiB.Value - (ulong)firmware.Length), (ulong)firmware.Length, KvmMemFlags.Readonly);
        kvm.Host.Write(rom, firmware);

        var vcpu = vm.CreateVcpu(0);
        vcpu.SetCpu(resetState ?? CpuState.LegacyReset(), CpuVendor.Amd);
        return RunVcpu(vcpu, new DebugDevices(console, serial ?? console), maxInstructions, timeout);
    }

    /// <summary>
    /// The boot harness's exit loop for one vCPU whose registers are set: the CPUID model, the instruction budget,
    /// the wall-clock alarm, and the debug devices until the guest stops or asks to.
    /// </summary>
    internal static BootResult RunVcpu(VcpuFd vcpu, DebugDevices devices, long maxInstructions, TimeSpan? timeout, VcpuType vcpuType = VcpuType.Qemu64)
    {
        vcpu.SetCpuid2(CpuidModel.Entries(vcpuType, vcpu.Id));
        var (stop, elapsed) = RunUntilStop(vcpu, maxInstructions, timeout, exit =>
        {
            if (BootExits.Handle(exit, devices) is { } why)
            {
                return why;
            }

            return devices.ExitStatus is not null ? "isa-debug-exit" : devices.PoweredOff ? "ACPI power-off" : null;
        });
        return new BootResult(devices.ExitStatus, stop, vcpu.Cpu?.InstructionsRetired ?? 0, elapsed, (vcpu.Cpu as Cpu.X86Cpu)?.Counters);
    }

    /// <summary>
    /// The boot harnesses' one exit loop: KVM_RUN within the instruction budget and the wall-clock alarm (a kick, as a
    /// signal makes KVM_RUN return −EINTR), each exit to <paramref name="handle"/> until it names a reason to stop.
    /// </summary>
    internal static (string Stop, TimeSpan Elapsed) RunUntilStop(VcpuFd vcpu, long maxInstructions, TimeSpan? timeout, Func<KvmExit, string?> handle)
    {
        vcpu.InstructionBudget = maxInstructions;
        var clock = Stopwatch.StartNew();
        bool timedOut = false;
        using var alarm = timeout is { } limit ? new Timer(_ => { timedOut = true; vcpu.Kick(); }, null, limit, Timeout.InfiniteTimeSpan) : null;
        while (true)
        {
            var exit = vcpu.Run();
            if (exit is KvmExit.Intr && Volatile.Read(ref timedOut))
            {
                return ($"time limit reached after {timeout!.Value.TotalSeconds:0.###} s", clock.Elapsed);
            }

            if (handle(exit) is { } why)
            {
                return (why, clock.Elapsed);
            }
        }
    }

    internal static Memory.Hva AddRam(VmFd vm, uint slot, Gpa gpa, ulong size) => AddSlot(vm, slot, gpa, size, KvmMemFlags.None);

    private static Memory.Hva AddSlot(VmFd vm, uint slot, Gpa gpa, ulong size, KvmMemFlags flags)
    {
        var hva = vm.Kvm.Host.Map(size);
        vm.SetUserMemoryRegion2(new KvmUserspaceMemoryRegion2 { Slot = slot, Flags = flags, GuestPhysAddr = gpa.Value, MemorySize = size, UserspaceAddr = hva.Value, GuestMemfd = -1 });
        return hva;
    }
}

/// <summary>The boot harness's exit handlers: one small case per KVM exit.</summary>
public static class BootExits
{
    /// <summary>Serves one exit; a reason to stop, or null to run on.</summary>
    public static string? Handle(KvmExit exit, DebugDevices devices)
    {
        switch (exit)
        {
            case KvmExit.Io { IsOut: true } o:
                devices.Out(o.Port, o.Size, (uint)Value(o.Data));
                return null;
            case KvmExit.Io i:
                BitConverter.GetBytes(devices.In(i.Port, i.Size)).AsSpan(0, i.Size).CopyTo(i.Data);
                return null;
            case KvmExit.Mmio { IsWrite: false } m:
                m.Data.AsSpan().Fill(0xFF); // nothing is mapped there: all ones, as on a PC bus
                return null;
            case KvmExit.Mmio:
                return null; // writes to ROM or to nothing are dropped
            case KvmExit.Hlt:
                return "the guest halted (HLT with no interrupt source)";
            case KvmExit.Shutdown:
                return "shutdown (triple fault)";
            case KvmExit.Intr:
                return "instruction limit reached";
            default:
                return "unexpected exit " + exit.Reason;
        }
    }

    /// <summary>The value an OUT or MMIO write carries in its <c>kvm_run</c> data bytes, zero-extended.</summary>
    internal static ulong Value(ReadOnlySpan<byte> data)
    {
        Span<byte> buffer = stackalloc byte[8];
        data[..Math.Min(8, data.Length)].CopyTo(buffer);
        return BitConverter.ToUInt64(buffer);
    }
}
