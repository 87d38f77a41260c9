using CocoLaunch.Abi;
using CocoLaunch.Vmm.Launch;

namespace CocoLaunch.Vmm.Igvm;

/// <summary>
/// The launch of an IGVM file as QEMU's IGVM loader performs it on KVM: the same VM, vCPU and memory steps as a
/// firmware launch, but memory goes where the directives put pages, and the directives, in file order, are what
/// LAUNCH_UPDATE or INIT_MEM_REGION measures.
/// </summary>
public static class IgvmRecipe
{
    public static IReadOnlyList<LaunchStep> For(KvmVmType platform)
    {
        var steps = new List<LaunchStep> { new("create-vm", "every other ioctl needs the VM fd", LaunchRecipe.CreateVm) };
        if (platform == KvmVmType.Snp)
        {
            steps.Add(new("snp-launch-start", "the firmware's guest context, with the file's policy, must exist before any page is measured", Snp.SnpLaunchSteps.LaunchStart));
        }
        else if (platform == KvmVmType.Tdx)
        {
            steps.Add(new("split-irqchip", "a TD's vCPU needs an in-kernel local APIC, as QEMU's kernel-irqchip=split provides", LaunchRecipe.EnableSplitIrqchip));
            steps.Add(new("tdx-init-vm", "KVM_TDX_INIT_VM must come before any vCPU exists", Tdx.TdxLaunchSteps.InitVm));
        }
        else
        {
            throw new LaunchException($"platform {platform.Name()} has no IGVM launch measurement (sev-snp and tdx do)");
        }

        steps.Add(new("exit-hypercall", "the guest's MapGPA/page-state changes reach the VMM as KVM_HC_MAP_GPA_RANGE exits", LaunchRecipe.EnableHypercallExit));
        steps.Add(new("create-vcpus", "vCPUs exist before memory is populated, as in QEMU", LaunchRecipe.CreateVcpus));
        steps.Add(new("igvm-memslots", "private memory under every page the directives load, before any is added", IgvmMemslots));
        steps.Add(new("attributes", "private memory must be PRIVATE before any page is added or measured", LaunchRecipe.Attributes));
        if (platform == KvmVmType.Tdx)
        {
            steps.Add(new("tdx-init-vcpu", "INIT_MEM_REGION runs on an initialised vCPU; RCX carries the TD HOB the file holds, if any", IgvmTdxSteps.InitVcpus));
            steps.Add(new("igvm-directives", "the directives in file order, each page PAGE.ADDed and MR.EXTENDed unless unmeasured: this is MRTD", IgvmTdxSteps.Directives));
            steps.Add(new("tdx-finalize", "TDH.MR.FINALIZE fixes MRTD", Tdx.TdxLaunchSteps.Finalize));
        }
        else
        {
            steps.Add(new("igvm-directives", "the directives in file order with the page types they name: this order is the digest", IgvmSnpSteps.Directives));
            steps.Add(new("snp-launch-finish", "the file's VMSAs are measured last, VP 0 first; the file's ID block is checked", IgvmSnpSteps.LaunchFinish));
        }

        steps.Add(new("prefault", "last: maps exactly the guest's memory, after every measured page is in place", LaunchRecipe.PreFault));
        return steps;
    }

    private static void IgvmMemslots(LaunchContext c)
    {
        c.Layout = c.Igvm!.Plan!.Layout;
        LaunchRecipe.CreateMemslots(c);
    }
}
