using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Kvm;

namespace CocoLaunch.Vmm.Launch;

/// <summary>One named launch step. <paramref name="Why"/> records why it sits where it does in the order.</summary>
public sealed record LaunchStep(string Name, string Why, Action<LaunchContext> Run);

/// <summary>The launch as ordered data: the steps a VMM performs, each a small method below.</summary>
public static class LaunchRecipe
{
    /// <summary>The SNP step after which the launch digest covers the firmware pages alone.</summary>
    public const string SnpFirmwareStep = "snp-launch-update-firmware";

    /// <param name="linux">A direct-boot kernel: an SNP guest then gets the local APICs a Linux board needs.</param>
    public static IReadOnlyList<LaunchStep> For(KvmVmType platform, bool linux = false)
    {
        var steps = new List<LaunchStep> { new("create-vm", "every other ioctl needs the VM fd", CreateVm) };
        bool legacySev = platform is KvmVmType.Sev or KvmVmType.SevEs;
        if (legacySev)
        {
            steps.Add(new("sev-launch-start", "the firmware's guest context must exist before any data is measured", Snp.SevLaunchSteps.LaunchStart));
        }

        if (platform == KvmVmType.Snp)
        {
            steps.Add(new("snp-launch-start", "the firmware's guest context, with the policy, must exist before any page is measured", Snp.SnpLaunchSteps.LaunchStart));
        }

        if (platform is KvmVmType.Tdx or KvmVmType.Snp)
        {
            steps.Add(new("exit-hypercall", "the guest's MapGPA/page-state changes reach the VMM as KVM_HC_MAP_GPA_RANGE exits, enabled before any vCPU runs, as QEMU does", EnableHypercallExit));
        }

        if (platform == KvmVmType.Default)
        {
            steps.Add(new("split-irqchip", "OVMF on q35 programs and polls its local APIC (MP start-up, timers), which lives in KVM as QEMU's kernel-irqchip provides; the userspace board has the IOAPIC, 8259s and 8254", EnableSplitIrqchip));
        }

        if (platform == KvmVmType.Snp && linux)
        {
            steps.Add(new("split-irqchip", "Linux's local APICs live in KVM, as QEMU's kernel-irqchip=split provides; the userspace board has the IOAPIC", EnableSplitIrqchip));
        }

        if (platform == KvmVmType.Tdx)
        {
            steps.Add(new("split-irqchip", "a TD's vCPU has an x2APIC only, kept in KVM: KVM_CREATE_VCPU fails without an in-kernel local APIC, as QEMU's kernel-irqchip=split provides", EnableSplitIrqchip));
            steps.Add(new("tdx-init-vm", "KVM_TDX_INIT_VM must come before any vCPU exists (EBUSY otherwise)", Tdx.TdxLaunchSteps.InitVm));
        }

        steps.Add(new("create-vcpus", "vCPUs exist before memory is populated, as in QEMU", CreateVcpus));
        steps.Add(new("memslots", "guest_memfd and host memory must be bound before attributes can make anything private", Memslots));
        steps.Add(new("attributes", "private memory must be PRIVATE before any page is added, measured or pre-faulted", Attributes));
        if (platform == KvmVmType.Tdx)
        {
            steps.Add(new("tdx-init-vcpu", "INIT_MEM_REGION runs on an initialised vCPU; RCX carries the TD HOB address", Tdx.TdxLaunchSteps.InitVcpus));
            steps.Add(new("tdx-init-mem-region", "the TDVF sections, in metadata order: this is what MRTD measures", Tdx.TdxLaunchSteps.InitMemRegions));
            steps.Add(new("tdx-finalize", "TDH.MR.FINALIZE fixes MRTD; only then may private memory be pre-faulted", Tdx.TdxLaunchSteps.Finalize));
        }
        else if (platform == KvmVmType.Snp)
        {
            steps.Add(new(SnpFirmwareStep, "the whole firmware as NORMAL pages first; the digest here is sev-snp-measure's snp:ovmf-hash", Snp.SnpLaunchSteps.LaunchUpdateFirmware));
            steps.Add(new("snp-launch-update", "then the metadata sections in table order: this order is the digest", Snp.SnpLaunchSteps.LaunchUpdate));
            steps.Add(new("snp-launch-finish", "VMSAs are measured last, vCPU 0 first; only then may private memory be pre-faulted", Snp.SnpLaunchSteps.LaunchFinish));
        }

        if (legacySev)
        {
            // KVM never lets SEV and SEV-ES VMs pre-fault (pre_fault_allowed stays false), so the recipe ends with the measurement.
            steps.Add(new("sev-launch-update-data", "firmware then hashes table, into one SHA-256 stream", Snp.SevLaunchSteps.LaunchUpdateData));
            steps.Add(new("sev-launch-measure", "SEV-ES VMSAs go last, vCPU 0 first, then LAUNCH_MEASURE", Snp.SevLaunchSteps.LaunchUpdateVmsaAndMeasure));
            return steps;
        }

        steps.Add(new("prefault", "last: maps exactly the guest's memory, after every page the launch measures is in place", PreFault));
        return steps;
    }

    public static IReadOnlyList<string> StepNames(KvmVmType platform) => For(platform).Select(s => s.Name).ToList();

    /// <summary>Runs the recipe up to and including <paramref name="stopAfter"/> (all steps when null).</summary>
    public static LaunchContext Run(LaunchContext context, string? stopAfter)
    {
        var steps = context.Igvm is null ? For(context.Spec.Platform, context.Spec.DirectBoot is not null) : Igvm.IgvmRecipe.For(context.Spec.Platform);
        if (stopAfter is not null && steps.All(s => s.Name != stopAfter))
        {
            throw new LaunchException($"--stop-after: no step '{stopAfter}' in the {context.Spec.Platform.Name()} launch (steps: {string.Join(", ", steps.Select(s => s.Name))})");
        }

        foreach (var step in steps)
        {
            try
            {
                step.Run(context);
            }
            catch (KvmException e)
            {
                throw new LaunchException($"step {step.Name}: {e.Message}");
            }

            if (step.Name == stopAfter)
            {
                break;
            }
        }

        return context;
    }

    internal static void CreateVm(LaunchContext c) => c.Vm = c.Kvm.CreateVm(c.Spec.Platform);

    internal static void EnableHypercallExit(LaunchContext c) =>
        c.RequireVm().EnableCap(new KvmEnableCap { Cap = KvmCap.ExitHypercall, Arg0 = 1UL << (int)KvmLimits.HcMapGpaRange });

    internal static void EnableSplitIrqchip(LaunchContext c) =>
        c.RequireVm().EnableCap(new KvmEnableCap { Cap = KvmCap.SplitIrqchip, Arg0 = Devices.IoApic.Pins });

    internal static void CreateVcpus(LaunchContext c)
    {
        for (uint i = 0; i < c.Spec.Vcpus; i++)
        {
            c.Vcpus.Add(c.RequireVm().CreateVcpu(i));
        }
    }

    private static void Memslots(LaunchContext c)
    {
        c.Layout = GuestMemoryLayout.Plan(c.Spec, (ulong)c.Firmware.Size);
        SectionPlacement.Check(c.Layout, c.Ovmf, c.Spec.Platform);
        CreateMemslots(c);
    }

    /// <summary>Binds host memory (and a guest_memfd for private memory) to every slot of <see cref="LaunchContext.Layout"/>.</summary>
    internal static void CreateMemslots(LaunchContext c)
    {
        var vm = c.RequireVm();
        foreach (var slot in c.Layout)
        {
            ulong hostPages = slot.Firmware ? PageSize.Size4K : c.Spec.Memory.HostPageSize;
            bool inPlace = c.InPlaceConversion && vm.Type.HasPrivateMemory();
            var hva = inPlace ? default : c.Kvm.Host.Map(slot.Size, hostPages);
            if (slot.Firmware && !slot.Private && !inPlace)
            {
                c.Kvm.Host.Write(hva, c.Firmware.Bytes.Span);
            }

            var region = new KvmUserspaceMemoryRegion2 { Slot = slot.Slot, GuestPhysAddr = slot.Gpa.Value, MemorySize = slot.Size, UserspaceAddr = hva.Value, GuestMemfd = -1 };
            if (vm.Type.HasPrivateMemory())
            {
                region.Flags = KvmMemFlags.GuestMemfd;
                // In place (RFC v2), the guest_memfd supports shared mappings and starts private; the slot maps the file itself.
                region.GuestMemfd = vm.CreateGuestMemfd(new KvmCreateGuestMemfd { Size = slot.Size, Flags = inPlace ? GuestMemfdFlags.SupportShared | GuestMemfdFlags.InitPrivate : 0 });
                if (inPlace)
                {
                    var gmem = c.Kvm.Fds.Get<Memory.GuestMemfd>(region.GuestMemfd);
                    region.UserspaceAddr = c.Kvm.Host.MapGuestMemfd(gmem, 0, slot.Size, shared: true).Value;
                }
            }
            else if (slot.Firmware && vm.Type == KvmVmType.Default)
            {
                region.Flags = KvmMemFlags.Readonly; // the flash/ROM mapping: guest writes exit as MMIO
            }

            vm.SetUserMemoryRegion2(region);
        }
    }

    internal static void Attributes(LaunchContext c)
    {
        if (c.InPlaceConversion && c.RequireVm().Type.HasPrivateMemory())
        {
            return; // privacy lives in the guest_memfd, whose pages start private
        }

        foreach (var slot in c.Layout.Where(s => s.Private))
        {
            c.RequireVm().SetMemoryAttributes(new KvmMemoryAttributesArgs { Address = slot.Gpa.Value, Size = slot.Size, Attributes = KvmMemoryAttributes.Private });
        }
    }

    internal static void PreFault(LaunchContext c)
    {
        var vcpu = c.Vcpus.FirstOrDefault() ?? throw new LaunchException("step prefault: the VM has no vCPU");
        foreach (var slot in c.Layout)
        {
            var args = new KvmPreFaultMemory { Gpa = slot.Gpa.Value, Size = slot.Size };
            while (args.Size > 0)
            {
                vcpu.PreFaultMemory(ref args);
            }

            c.PreFaulted.Add((slot.Gpa, slot.Size));
        }
    }
}
