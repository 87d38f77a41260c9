using CocoLaunch.Formats.Linux;
using CocoLaunch.Vmm.Acpi.Q35;
using CocoLaunch.Vmm.Devices;
using CocoLaunch.Vmm.Launch;

namespace CocoLaunch.Vmm.Boot;

/// <summary>
/// What OVMF reads from fw_cfg on QEMU's q35 (hw/i386/fw_cfg.c fw_cfg_arch_create, hw/i386/x86.c x86_load_linux):
/// the CPU counts, the RAM map in <c>etc/e820</c>, an empty <c>bootorder</c>, QEMU 7.2's q35 ACPI tables for the guest's
/// shape through its table-loader script (Acpi/Q35), and for a direct boot the kernel as
/// QEMU 7.2 serves it (setup header patched, split at the setup size), the initrd and the NUL-terminated command line.
/// </summary>
public static class Q35FwCfg
{
    private const ushort NbCpus = 0x05, MaxCpus = 0x0F;

    /// <param name="ram">The guest's RAM ranges (base, size), as the memslots hold them.</param>
    /// <param name="ecamBase">Where PCIEXBAR has put the ECAM window by now, or null while it is closed.</param>
    public static FwCfg Build(LaunchContext c, IDmaMemory memory, IReadOnlyList<(ulong Base, ulong Size)> ram, Func<ulong?> ecamBase)
    {
        var fwCfg = new FwCfg(memory);
        fwCfg.Add(NbCpus, BitConverter.GetBytes((ushort)c.Spec.Vcpus));
        fwCfg.Add(MaxCpus, BitConverter.GetBytes((ushort)c.Spec.Vcpus));
        fwCfg.AddFile("bootorder", []);
        fwCfg.AddE820(ram);
        if (c.Spec.Tdx?.MeasuredBoot is { } measured)
        {
            // A TD whose RTMRs the spec predicts gets the ACPI files the prediction measured: the ones a guest of the
            // same VM shape captured under QEMU.
            foreach (var (name, path) in measured.FwCfgFiles)
            {
                fwCfg.AddFile(name, Abi.IO.InputFile.ReadAllBytes(path, 1 << 20, "tdx.measured-boot.fw-cfg." + name));
            }
        }
        else
        {
            // QEMU builds the tables when the firmware first reads them, so MCFG names the ECAM window it opened.
            var shape = Q35MachineShape.FromRam(c.Spec.Vcpus, ram);
            Q35AcpiBuild.Build(shape).AddTo(fwCfg, () => Q35AcpiBuild.Build(ecamBase() is { } ecam ? shape with { EcamBase = (uint)ecam } : shape));
        }

        if (c.Spec.DirectBoot is { } boot)
        {
            byte[] file = Abi.IO.InputFile.ReadAllBytes(boot.KernelPath, Abi.IO.InputFile.BootImageLimit, "kernel");
            byte[] initrd = boot.InitrdPath is { } path ? Abi.IO.InputFile.ReadAllBytes(path, Abi.IO.InputFile.BootImageLimit, "initrd") : [];
            string cmdline = boot.Cmdline ?? string.Empty;
            try
            {
                // Patched where it lies, then served as slices of the one copy.
                QemuLinuxLoader.PatchKernelInPlace(c.Spec.Tdx?.MeasuredBoot?.KernelPatch ?? Spec.QemuKernelPatch.Qemu72, file, (ulong)initrd.Length, cmdline, c.Spec.Memory.Size);
                fwCfg.AddLinuxBoot(file, file.Length - BzImage.Parse(file).ProtectedModeKernel.Length, initrd, cmdline);
            }
            catch (KernelFormatException e)
            {
                throw new LaunchException($"kernel {boot.KernelPath}: {e.Message}");
            }
        }

        return fwCfg;
    }
}
