using System.Text;
using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Cpu;
using CocoLaunch.Formats.Linux;
using CocoLaunch.Kvm;

namespace CocoLaunch.Vmm.Boot;

/// <summary>A direct Linux boot that cannot be laid out: the kernel, initrd and command line do not fit the RAM or the protocol.</summary>
public sealed class LinuxBootException(string message) : Exception(message);

/// <summary>
/// Direct Linux boot through the x86 64-bit boot protocol (boot.rst; linux-guest.md §2), as Firecracker's
/// <c>load_kernel</c>/<c>configure_64bit_boot</c> do it: the protected-mode kernel at its preferred address, the
/// initrd at the top of low RAM, the zero page and command line low, a flat GDT and identity page tables for the
/// first 4 GiB, and the vCPU in 64-bit mode at the kernel's 64-bit entry with RSI pointing at the zero page.
/// </summary>
public static class LinuxBoot
{
    public const ulong GdtGpa = 0x500, ZeroPageGpa = 0x7000, StackTop = 0x8FF0, Pml4Gpa = 0x9000, CmdlineGpa = 0x2_0000;

    /// <summary>The end of conventional memory in the e820 map (below the EBDA, as Firecracker reports it).</summary>
    public const ulong ConventionalEnd = 0x9_FC00;

    private const ulong HighMemory = 0x10_0000, LowRamLimit = 0xC000_0000, Page = PageSize.Size4K, TwoMiB = PageSize.Size2M;

    /// <summary>
    /// Lays out and boots the kernel on the <see cref="LinuxBoard"/>, its serial console into <paramref name="console"/>;
    /// a <see cref="LinuxBootException"/> names what does not fit.
    /// </summary>
    public static BootResult Run(BzImage kernel, ReadOnlySpan<byte> initrd, string cmdline, ulong memoryBytes, Stream console, long maxInstructions, TimeSpan? timeout,
        VcpuType vcpuType = VcpuType.KvmIntel, DateTimeOffset? wallClock = null)
    {
        var layout = Plan(kernel, (ulong)initrd.Length, cmdline, memoryBytes);
        var vm = new Kvm.Kvm().CreateVm(KvmVmType.Default);
        vm.EnableCap(new KvmEnableCap { Cap = KvmCap.SplitIrqchip, Arg0 = Devices.IoApic.Pins });
        var low = FirmwareBoot.AddRam(vm, 0, Gpa.Zero, layout.LowRam);
        if (memoryBytes > layout.LowRam)
        {
            FirmwareBoot.AddRam(vm, 1, Gpa.FourGiB, memoryBytes - layout.LowRam);
        }

        var host = vm.Kvm.Host;
        void Put(ulong gpa, ReadOnlySpan<byte> bytes) => host.Write(new Memory.Hva(low.Value + gpa), bytes);
        var acpi = LinuxBoard.AcpiTables(cpus: 1);
        Put(layout.KernelGpa, kernel.ProtectedModeKernel.Span);
        Put(layout.InitrdGpa, initrd);
        Put(CmdlineGpa, [.. Encoding.ASCII.GetBytes(cmdline), 0]);
        Put(ZeroPageGpa, LinuxBootParams.Build(kernel, CmdlineGpa, layout.InitrdGpa, (ulong)initrd.Length, layout.E820, acpi.RsdpGpa));
        Put(LinuxBoard.AcpiGpa, acpi.Bytes);
        Put(GdtGpa, Gdt());
        Put(Pml4Gpa, IdentityPageTables());

        var vcpu = vm.CreateVcpu(0);
        vcpu.SetCpu(EntryState(layout.KernelGpa + BzImage.Entry64Offset), CpuidModel.Vendor(vcpuType));
        vcpu.SetCpuid2(CpuidModel.Entries(vcpuType, vcpu.Id));
        var board = new LinuxBoard(vm, console, new TscClock(vcpu), wallClock ?? DateTimeOffset.UtcNow);
        return RunVcpu(vcpu, board, maxInstructions, timeout);
    }

    /// <summary>One exit loop: the board serves every exit until the guest powers off, resets or stops.</summary>
    private static BootResult RunVcpu(VcpuFd vcpu, LinuxBoard board, long maxInstructions, TimeSpan? timeout)
    {
        var (stop, elapsed) = FirmwareBoot.RunUntilStop(vcpu, maxInstructions, timeout, board.Handle);
        // Where the guest was, for a stop it did not ask for.
        stop = stop == LinuxBoard.StopPoweredOff ? stop : $"{stop} at RIP 0x{vcpu.Cpu?.State.Rip ?? 0:x}";
        return new BootResult(null, stop, vcpu.Cpu?.InstructionsRetired ?? 0, elapsed, (vcpu.Cpu as Cpu.X86Cpu)?.Counters);
    }

    /// <summary>Where everything goes, or why it cannot.</summary>
    public sealed record Layout(ulong LowRam, ulong KernelGpa, ulong InitrdGpa, IReadOnlyList<E820Entry> E820);

    public static Layout Plan(BzImage kernel, ulong initrdSize, string cmdline, ulong memoryBytes)
    {
        if (cmdline.Length > kernel.CmdlineSize || cmdline.Any(c => c is '\0' or > '\x7e'))
        {
            throw new LinuxBootException($"the command line has {cmdline.Length} characters; this kernel takes at most {kernel.CmdlineSize} printable ASCII ones (cmdline_size)");
        }

        // The kernel runs from its preferred address (16 MiB for a relocatable x86-64 kernel): startup_64's move
        // target is max(align_up(load, 2 MiB), 16 MiB), so loading there avoids the copy.
        ulong lowRam = Math.Min(memoryBytes, LowRamLimit);
        ulong load = Math.Max(AlignUp(Math.Min(kernel.PrefAddress, LowRamLimit), kernel.KernelAlignment), AlignUp(HighMemory, kernel.KernelAlignment));
        ulong kernelEnd = load + kernel.InitSize; // both below 2^33: no wrap
        if (kernelEnd > lowRam)
        {
            throw new LinuxBootException($"the kernel needs RAM up to 0x{kernelEnd:x} (pref_address 0x{load:x} + init_size 0x{kernel.InitSize:x}); --memory gives 0x{lowRam:x} below 3 GiB");
        }

        ulong initrdTop = Math.Min(lowRam, (ulong)kernel.InitrdAddrMax + 1);
        ulong initrdGpa = initrdSize == 0 ? 0 : (initrdTop - initrdSize) & ~(Page - 1);
        if (initrdSize != 0 && (initrdSize > initrdTop || initrdGpa < kernelEnd))
        {
            throw new LinuxBootException($"the {initrdSize}-byte initrd does not fit between the kernel's end 0x{kernelEnd:x} and 0x{initrdTop:x} (RAM below 3 GiB and initrd_addr_max)");
        }

        var e820 = new List<E820Entry> { new(0, ConventionalEnd, E820Entry.Ram), new(HighMemory, lowRam - HighMemory, E820Entry.Ram) };
        if (memoryBytes > lowRam)
        {
            e820.Add(new(Gpa.FourGiB.Value, memoryBytes - lowRam, E820Entry.Ram));
        }

        return new Layout(lowRam, load, initrdGpa, e820);
    }

    /// <summary>Null, null, then 64-bit code (selector 0x10) and data (0x18), as td-shim and boot.rst lay them out.</summary>
    private static byte[] Gdt() =>
        [.. BitConverter.GetBytes(0UL), .. BitConverter.GetBytes(0UL), .. BitConverter.GetBytes(0x00AF_9B00_0000_FFFFUL), .. BitConverter.GetBytes(0x00CF_9300_0000_FFFFUL)];

    /// <summary>PML4 → one PDPT → four page directories of 2 MiB pages: 0..4 GiB identity-mapped, writable.</summary>
    private static byte[] IdentityPageTables()
    {
        var t = new byte[6 * Page];
        BitConverter.GetBytes((Pml4Gpa + Page) | 3).CopyTo(t, 0);
        for (int g = 0; g < 4; g++)
        {
            BitConverter.GetBytes((Pml4Gpa + ((ulong)(2 + g) * Page)) | 3).CopyTo(t, (int)Page + (8 * g));
            for (int m = 0; m < 512; m++)
            {
                BitConverter.GetBytes((((ulong)g << 30) + ((ulong)m * TwoMiB)) | 0x83).CopyTo(t, (int)((ulong)(2 + g) * Page) + (8 * m));
            }
        }

        return t;
    }

    /// <summary>Long mode, paging on the identity tables, interrupts off, RSI = the zero page (boot.rst's 64-bit protocol).</summary>
    private static CpuState EntryState(ulong entry)
    {
        var s = new CpuState { Cr0 = 0x8000_0031, Cr3 = Pml4Gpa, Cr4 = 0x20, Efer = 0x500, Rip = entry, Rflags = 2 };
        for (int i = 0; i < 6; i++)
        {
            s.Segments[i] = new Segment(0x18, 0, 0xFFFF_FFFF, 0xC93);
        }

        s.Cs = new Segment(0x10, 0, 0xFFFF_FFFF, 0xA9B);
        s.Gdtr = new DescriptorTable { Base = GdtGpa, Limit = 31 };
        s.Gpr[4] = StackTop;
        s.Gpr[6] = ZeroPageGpa;
        return s;
    }

    private static ulong AlignUp(ulong value, ulong alignment) => (value + alignment - 1) & ~(alignment - 1);
}
