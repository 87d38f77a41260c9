using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Tests.Shared;
using static CocoLaunch.Kvm.Tests.KvmSetup;

namespace CocoLaunch.Kvm.Tests;

/// <summary>
/// Two vCPUs faulting the same private GFN of a running TD at once. In the TDP MMU one of them installs the
/// Secure-EPT entry (TDH.MEM.PAGE.AUG) and the other finds it present and retries (RET_PF_RETRY); a TDX-module
/// status never escapes an ioctl (tdx_sept_set_private_spte, tdx_mem_page_aug in arch/x86/kvm/vmx/tdx.c).
/// </summary>
public sealed class TdxFaultRaceTests
{
    private const ulong G = 0x100_0000;

    [Fact]
    public async Task TdxMemPageAug_ConcurrentPreFaultsOfTheSamePages_OneAugEachNoModuleErrorEscapes()
    {
        var vm = Vm(KvmVmType.Tdx);
        var vcpu0 = vm.RunnableTd();
        var vcpu1 = vm.CreateVcpu(1);
        vm.Slot(0, G, M2, vm.Gmem(M2));
        var errors = new System.Collections.Concurrent.ConcurrentBag<Exception>();
        for (int round = 0; round < 200; round++)
        {
            vm.SetAttributes(G, M2, isPrivate: true);
            using var go = new Barrier(2);
            void PreFault(VcpuFd vcpu)
            {
                try
                {
                    go.SignalAndWait();
                    var args = Range(G, M2);
                    vcpu.PreFaultMemory(ref args);
                }
                catch (KvmException)
                {
                    // An errno is an allowed answer; the invariant is that nothing else escapes.
                }
                catch (Exception e)
                {
                    errors.Add(e);
                }
            }

            var other = Task.Run(() => PreFault(vcpu1));
            PreFault(vcpu0);
            await other;
            Assert.Empty(errors);
            Assert.Equal(512, vm.Td!.PendingPages); // each page added exactly once
            vm.SetAttributes(G, M2, isPrivate: false); // converting to shared removes them (TDH.MEM.PAGE.REMOVE)
            Assert.Equal(0, vm.Td.PendingPages);
        }
    }
}
